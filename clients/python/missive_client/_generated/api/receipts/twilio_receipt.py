from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.receipt_answer import ReceiptAnswer
from ...types import UNSET, Response


def _get_kwargs(
    *,
    body: str,
    d: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["d"] = d

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/receipts/twilio",
        "params": params,
    }

    _kwargs["data"] = body.to_dict()
    headers["Content-Type"] = "application/x-www-form-urlencoded"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ReceiptAnswer | None:
    if response.status_code == 200:
        response_200 = ReceiptAnswer.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | ReceiptAnswer]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: str,
    d: str,
) -> Response[Problem | ReceiptAnswer]:
    """A Twilio status callback.

     No API key: the `X-Twilio-Signature` must be Twilio's signature of
    `{server.public_url}/v1/receipts/twilio?d=<delivery id>` and the form
    parameters, made with the auth token of a `channels.sms` Twilio
    provider (403 otherwise, and nothing changes). missive asks for these
    callbacks itself (`StatusCallback`) when `server.public_url` is set.
    `MessageStatus` `delivered` moves the delivery to `delivered`;
    `undelivered`/`failed` to `undelivered`, or to `bounced` (the number
    goes on the suppression list) for error codes that say the number
    can't take messages (21211, 21614, 30005, 30006), or to `complained`
    for 21610 (the recipient replied STOP).

    Args:
        d (str):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReceiptAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
        d=d,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: str,
    d: str,
) -> Problem | ReceiptAnswer | None:
    """A Twilio status callback.

     No API key: the `X-Twilio-Signature` must be Twilio's signature of
    `{server.public_url}/v1/receipts/twilio?d=<delivery id>` and the form
    parameters, made with the auth token of a `channels.sms` Twilio
    provider (403 otherwise, and nothing changes). missive asks for these
    callbacks itself (`StatusCallback`) when `server.public_url` is set.
    `MessageStatus` `delivered` moves the delivery to `delivered`;
    `undelivered`/`failed` to `undelivered`, or to `bounced` (the number
    goes on the suppression list) for error codes that say the number
    can't take messages (21211, 21614, 30005, 30006), or to `complained`
    for 21610 (the recipient replied STOP).

    Args:
        d (str):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReceiptAnswer
    """

    return sync_detailed(
        client=client,
        body=body,
        d=d,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: str,
    d: str,
) -> Response[Problem | ReceiptAnswer]:
    """A Twilio status callback.

     No API key: the `X-Twilio-Signature` must be Twilio's signature of
    `{server.public_url}/v1/receipts/twilio?d=<delivery id>` and the form
    parameters, made with the auth token of a `channels.sms` Twilio
    provider (403 otherwise, and nothing changes). missive asks for these
    callbacks itself (`StatusCallback`) when `server.public_url` is set.
    `MessageStatus` `delivered` moves the delivery to `delivered`;
    `undelivered`/`failed` to `undelivered`, or to `bounced` (the number
    goes on the suppression list) for error codes that say the number
    can't take messages (21211, 21614, 30005, 30006), or to `complained`
    for 21610 (the recipient replied STOP).

    Args:
        d (str):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReceiptAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
        d=d,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: str,
    d: str,
) -> Problem | ReceiptAnswer | None:
    """A Twilio status callback.

     No API key: the `X-Twilio-Signature` must be Twilio's signature of
    `{server.public_url}/v1/receipts/twilio?d=<delivery id>` and the form
    parameters, made with the auth token of a `channels.sms` Twilio
    provider (403 otherwise, and nothing changes). missive asks for these
    callbacks itself (`StatusCallback`) when `server.public_url` is set.
    `MessageStatus` `delivered` moves the delivery to `delivered`;
    `undelivered`/`failed` to `undelivered`, or to `bounced` (the number
    goes on the suppression list) for error codes that say the number
    can't take messages (21211, 21614, 30005, 30006), or to `complained`
    for 21610 (the recipient replied STOP).

    Args:
        d (str):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReceiptAnswer
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            d=d,
        )
    ).parsed
