from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.postmark_receipt_body import PostmarkReceiptBody
from ...models.problem import Problem
from ...models.receipt_answer import ReceiptAnswer
from ...types import Response


def _get_kwargs(
    *,
    body: PostmarkReceiptBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/receipts/postmark",
    }

    _kwargs["json"] = body.to_dict()

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
    body: PostmarkReceiptBody,
) -> Response[Problem | ReceiptAnswer]:
    """A Postmark webhook call.

     No API key: basic auth with `receipts.postmark_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/postmark` for
    the Delivery, Bounce and Spam Complaint webhooks); 401 without it, or
    while it is not set. The delivery is named by the `missive_delivery`
    metadata missive puts in every message (`X-PM-Metadata-missive_delivery`).
    `RecordType` `Delivery` → `delivered`; `Bounce` → `bounced` (listed) for
    `HardBounce`, `BadEmailAddress` and `ManuallyDeactivated`, `complained`
    (listed) for `SpamComplaint`, recorded only for auto-replies and
    notices, else `undelivered`; `SpamComplaint` → `complained` (listed).
    409 when the delivery's sending is still being recorded: Postmark
    sends it again later.

    Args:
        body (PostmarkReceiptBody):

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
    body: PostmarkReceiptBody,
) -> Problem | ReceiptAnswer | None:
    """A Postmark webhook call.

     No API key: basic auth with `receipts.postmark_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/postmark` for
    the Delivery, Bounce and Spam Complaint webhooks); 401 without it, or
    while it is not set. The delivery is named by the `missive_delivery`
    metadata missive puts in every message (`X-PM-Metadata-missive_delivery`).
    `RecordType` `Delivery` → `delivered`; `Bounce` → `bounced` (listed) for
    `HardBounce`, `BadEmailAddress` and `ManuallyDeactivated`, `complained`
    (listed) for `SpamComplaint`, recorded only for auto-replies and
    notices, else `undelivered`; `SpamComplaint` → `complained` (listed).
    409 when the delivery's sending is still being recorded: Postmark
    sends it again later.

    Args:
        body (PostmarkReceiptBody):

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
    body: PostmarkReceiptBody,
) -> Response[Problem | ReceiptAnswer]:
    """A Postmark webhook call.

     No API key: basic auth with `receipts.postmark_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/postmark` for
    the Delivery, Bounce and Spam Complaint webhooks); 401 without it, or
    while it is not set. The delivery is named by the `missive_delivery`
    metadata missive puts in every message (`X-PM-Metadata-missive_delivery`).
    `RecordType` `Delivery` → `delivered`; `Bounce` → `bounced` (listed) for
    `HardBounce`, `BadEmailAddress` and `ManuallyDeactivated`, `complained`
    (listed) for `SpamComplaint`, recorded only for auto-replies and
    notices, else `undelivered`; `SpamComplaint` → `complained` (listed).
    409 when the delivery's sending is still being recorded: Postmark
    sends it again later.

    Args:
        body (PostmarkReceiptBody):

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
    body: PostmarkReceiptBody,
) -> Problem | ReceiptAnswer | None:
    """A Postmark webhook call.

     No API key: basic auth with `receipts.postmark_secret` as the password
    (register `https://missive:<secret>@<host>/v1/receipts/postmark` for
    the Delivery, Bounce and Spam Complaint webhooks); 401 without it, or
    while it is not set. The delivery is named by the `missive_delivery`
    metadata missive puts in every message (`X-PM-Metadata-missive_delivery`).
    `RecordType` `Delivery` → `delivered`; `Bounce` → `bounced` (listed) for
    `HardBounce`, `BadEmailAddress` and `ManuallyDeactivated`, `complained`
    (listed) for `SpamComplaint`, recorded only for auto-replies and
    notices, else `undelivered`; `SpamComplaint` → `complained` (listed).
    409 when the delivery's sending is still being recorded: Postmark
    sends it again later.

    Args:
        body (PostmarkReceiptBody):

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
