from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.receipt_answer import ReceiptAnswer
from ...models.sendgrid_receipt_body_item import SendgridReceiptBodyItem
from ...types import Response


def _get_kwargs(
    *,
    body: list[SendgridReceiptBodyItem],
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/receipts/sendgrid",
    }

    _kwargs["json"] = []
    for body_item_data in body:
        body_item = body_item_data.to_dict()
        _kwargs["json"].append(body_item)

    headers["Content-Type"] = "application/json"

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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
    body: list[SendgridReceiptBodyItem],
) -> Response[Problem | ReceiptAnswer]:
    """A SendGrid event webhook call.

     No API key: basic auth with `receipts.sendgrid_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/sendgrid`);
    401 without it, or while it is not set. The body is SendGrid's JSON
    array of events; each names its delivery by the `missive_delivery`
    unique arg missive puts in every message's `X-SMTPAPI` header. Events:
    `delivered` → `delivered`; `bounce` → `bounced` (the address goes on
    the suppression list), or `undelivered` when its `type` is `blocked`;
    `dropped` → `undelivered`; `spamreport` → `complained` (listed).
    Other events are ignored. 409 when an event names a delivery whose
    sending is still being recorded: SendGrid sends the batch again later,
    and what was applied is not applied twice.

    Args:
        body (list[SendgridReceiptBodyItem]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReceiptAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: list[SendgridReceiptBodyItem],
) -> Problem | ReceiptAnswer | None:
    """A SendGrid event webhook call.

     No API key: basic auth with `receipts.sendgrid_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/sendgrid`);
    401 without it, or while it is not set. The body is SendGrid's JSON
    array of events; each names its delivery by the `missive_delivery`
    unique arg missive puts in every message's `X-SMTPAPI` header. Events:
    `delivered` → `delivered`; `bounce` → `bounced` (the address goes on
    the suppression list), or `undelivered` when its `type` is `blocked`;
    `dropped` → `undelivered`; `spamreport` → `complained` (listed).
    Other events are ignored. 409 when an event names a delivery whose
    sending is still being recorded: SendGrid sends the batch again later,
    and what was applied is not applied twice.

    Args:
        body (list[SendgridReceiptBodyItem]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReceiptAnswer
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: list[SendgridReceiptBodyItem],
) -> Response[Problem | ReceiptAnswer]:
    """A SendGrid event webhook call.

     No API key: basic auth with `receipts.sendgrid_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/sendgrid`);
    401 without it, or while it is not set. The body is SendGrid's JSON
    array of events; each names its delivery by the `missive_delivery`
    unique arg missive puts in every message's `X-SMTPAPI` header. Events:
    `delivered` → `delivered`; `bounce` → `bounced` (the address goes on
    the suppression list), or `undelivered` when its `type` is `blocked`;
    `dropped` → `undelivered`; `spamreport` → `complained` (listed).
    Other events are ignored. 409 when an event names a delivery whose
    sending is still being recorded: SendGrid sends the batch again later,
    and what was applied is not applied twice.

    Args:
        body (list[SendgridReceiptBodyItem]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReceiptAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: list[SendgridReceiptBodyItem],
) -> Problem | ReceiptAnswer | None:
    """A SendGrid event webhook call.

     No API key: basic auth with `receipts.sendgrid_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/sendgrid`);
    401 without it, or while it is not set. The body is SendGrid's JSON
    array of events; each names its delivery by the `missive_delivery`
    unique arg missive puts in every message's `X-SMTPAPI` header. Events:
    `delivered` → `delivered`; `bounce` → `bounced` (the address goes on
    the suppression list), or `undelivered` when its `type` is `blocked`;
    `dropped` → `undelivered`; `spamreport` → `complained` (listed).
    Other events are ignored. 409 when an event names a delivery whose
    sending is still being recorded: SendGrid sends the batch again later,
    and what was applied is not applied twice.

    Args:
        body (list[SendgridReceiptBodyItem]):

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
        )
    ).parsed
