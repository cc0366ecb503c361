from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.accepted import Accepted
from ...models.problem import Problem
from ...models.send_request import SendRequest
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: SendRequest,
    idempotency_key: None | str | Unset = UNSET,
    traceparent: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(traceparent, Unset):
        headers["traceparent"] = traceparent

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/notifications",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Accepted | Problem | None:
    if response.status_code == 202:
        response_202 = Accepted.from_dict(response.json())

        return response_202

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

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Accepted | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: SendRequest,
    idempotency_key: None | str | Unset = UNSET,
    traceparent: None | str | Unset = UNSET,
) -> Response[Accepted | Problem]:
    """Send a notification.

     Scope `send`. Renders the template for every recipient and channel and
    queues the deliveries; answers once they are committed. A request with
    an `Idempotency-Key` that was seen before (from the same API key) queues
    nothing and gets the first answer's notification and deliveries again,
    with `Idempotent-Replayed: true`, `"replayed": true` and each delivery's
    status as it is now.

    Each `to` entry with an `id` must name a stored recipient
    (`PUT /v1/recipients/{id}`) unless it gives an address inline, or the
    send is for the in-app inbox (`in_app` named in `channels`, or the only
    channel the template has), which needs only the id. In-app
    `action_url`s must render to an `http(s)://` URL or a path starting with
    a single `/`; an email subject must render without control characters.

    Args:
        idempotency_key (None | str | Unset):
        traceparent (None | str | Unset):
        body (SendRequest): A notification to send: a template (or inline content), recipients and
            data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        traceparent=traceparent,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: SendRequest,
    idempotency_key: None | str | Unset = UNSET,
    traceparent: None | str | Unset = UNSET,
) -> Accepted | Problem | None:
    """Send a notification.

     Scope `send`. Renders the template for every recipient and channel and
    queues the deliveries; answers once they are committed. A request with
    an `Idempotency-Key` that was seen before (from the same API key) queues
    nothing and gets the first answer's notification and deliveries again,
    with `Idempotent-Replayed: true`, `"replayed": true` and each delivery's
    status as it is now.

    Each `to` entry with an `id` must name a stored recipient
    (`PUT /v1/recipients/{id}`) unless it gives an address inline, or the
    send is for the in-app inbox (`in_app` named in `channels`, or the only
    channel the template has), which needs only the id. In-app
    `action_url`s must render to an `http(s)://` URL or a path starting with
    a single `/`; an email subject must render without control characters.

    Args:
        idempotency_key (None | str | Unset):
        traceparent (None | str | Unset):
        body (SendRequest): A notification to send: a template (or inline content), recipients and
            data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
        traceparent=traceparent,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: SendRequest,
    idempotency_key: None | str | Unset = UNSET,
    traceparent: None | str | Unset = UNSET,
) -> Response[Accepted | Problem]:
    """Send a notification.

     Scope `send`. Renders the template for every recipient and channel and
    queues the deliveries; answers once they are committed. A request with
    an `Idempotency-Key` that was seen before (from the same API key) queues
    nothing and gets the first answer's notification and deliveries again,
    with `Idempotent-Replayed: true`, `"replayed": true` and each delivery's
    status as it is now.

    Each `to` entry with an `id` must name a stored recipient
    (`PUT /v1/recipients/{id}`) unless it gives an address inline, or the
    send is for the in-app inbox (`in_app` named in `channels`, or the only
    channel the template has), which needs only the id. In-app
    `action_url`s must render to an `http(s)://` URL or a path starting with
    a single `/`; an email subject must render without control characters.

    Args:
        idempotency_key (None | str | Unset):
        traceparent (None | str | Unset):
        body (SendRequest): A notification to send: a template (or inline content), recipients and
            data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        traceparent=traceparent,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: SendRequest,
    idempotency_key: None | str | Unset = UNSET,
    traceparent: None | str | Unset = UNSET,
) -> Accepted | Problem | None:
    """Send a notification.

     Scope `send`. Renders the template for every recipient and channel and
    queues the deliveries; answers once they are committed. A request with
    an `Idempotency-Key` that was seen before (from the same API key) queues
    nothing and gets the first answer's notification and deliveries again,
    with `Idempotent-Replayed: true`, `"replayed": true` and each delivery's
    status as it is now.

    Each `to` entry with an `id` must name a stored recipient
    (`PUT /v1/recipients/{id}`) unless it gives an address inline, or the
    send is for the in-app inbox (`in_app` named in `channels`, or the only
    channel the template has), which needs only the id. In-app
    `action_url`s must render to an `http(s)://` URL or a path starting with
    a single `/`; an email subject must render without control characters.

    Args:
        idempotency_key (None | str | Unset):
        traceparent (None | str | Unset):
        body (SendRequest): A notification to send: a template (or inline content), recipients and
            data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
            traceparent=traceparent,
        )
    ).parsed
