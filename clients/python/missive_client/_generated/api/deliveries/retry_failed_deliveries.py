from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.requeued import Requeued
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: str | Unset = UNSET,
    channel: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    template: str | Unset = UNSET,
    notification: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["status"] = status

    params["channel"] = channel

    params["recipient"] = recipient

    params["template"] = template

    params["notification"] = notification

    params["since"] = since

    params["until"] = until

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/deliveries/retry",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | Requeued | None:
    if response.status_code == 200:
        response_200 = Requeued.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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
) -> Response[Problem | Requeued]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    channel: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    template: str | Unset = UNSET,
    notification: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Problem | Requeued]:
    """Retry failed deliveries.

     Scope `admin`. Replays the dead-letter set: every failed delivery
    matching the list's filters goes back to the queue (`status` may be left
    out or `failed`).

    Args:
        status (str | Unset):
        channel (str | Unset):
        recipient (str | Unset):
        template (str | Unset):
        notification (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Requeued]
    """

    kwargs = _get_kwargs(
        status=status,
        channel=channel,
        recipient=recipient,
        template=template,
        notification=notification,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    channel: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    template: str | Unset = UNSET,
    notification: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Problem | Requeued | None:
    """Retry failed deliveries.

     Scope `admin`. Replays the dead-letter set: every failed delivery
    matching the list's filters goes back to the queue (`status` may be left
    out or `failed`).

    Args:
        status (str | Unset):
        channel (str | Unset):
        recipient (str | Unset):
        template (str | Unset):
        notification (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Requeued
    """

    return sync_detailed(
        client=client,
        status=status,
        channel=channel,
        recipient=recipient,
        template=template,
        notification=notification,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    channel: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    template: str | Unset = UNSET,
    notification: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Problem | Requeued]:
    """Retry failed deliveries.

     Scope `admin`. Replays the dead-letter set: every failed delivery
    matching the list's filters goes back to the queue (`status` may be left
    out or `failed`).

    Args:
        status (str | Unset):
        channel (str | Unset):
        recipient (str | Unset):
        template (str | Unset):
        notification (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Requeued]
    """

    kwargs = _get_kwargs(
        status=status,
        channel=channel,
        recipient=recipient,
        template=template,
        notification=notification,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    channel: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    template: str | Unset = UNSET,
    notification: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Problem | Requeued | None:
    """Retry failed deliveries.

     Scope `admin`. Replays the dead-letter set: every failed delivery
    matching the list's filters goes back to the queue (`status` may be left
    out or `failed`).

    Args:
        status (str | Unset):
        channel (str | Unset):
        recipient (str | Unset):
        template (str | Unset):
        notification (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Requeued
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            channel=channel,
            recipient=recipient,
            template=template,
            notification=notification,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
