from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.stats_report import StatsReport
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    group_by: str | Unset = UNSET,
    window: str | Unset = UNSET,
    since: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["group_by"] = group_by

    params["window"] = window

    params["since"] = since

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/stats",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | StatsReport | None:
    if response.status_code == 200:
        response_200 = StatsReport.from_dict(response.json())

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
) -> Response[Problem | StatsReport]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    group_by: str | Unset = UNSET,
    window: str | Unset = UNSET,
    since: str | Unset = UNSET,
) -> Response[Problem | StatsReport]:
    """Delivery statistics.

     Scope `read`. Per template, channel or provider over a window: counts
    by status, failure rate, suppression reasons, p50/p95 accepted-to-sent
    time and a series per minute (1 hour), hour (up to 8 days) or day.

    Args:
        group_by (str | Unset):
        window (str | Unset):
        since (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StatsReport]
    """

    kwargs = _get_kwargs(
        group_by=group_by,
        window=window,
        since=since,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    group_by: str | Unset = UNSET,
    window: str | Unset = UNSET,
    since: str | Unset = UNSET,
) -> Problem | StatsReport | None:
    """Delivery statistics.

     Scope `read`. Per template, channel or provider over a window: counts
    by status, failure rate, suppression reasons, p50/p95 accepted-to-sent
    time and a series per minute (1 hour), hour (up to 8 days) or day.

    Args:
        group_by (str | Unset):
        window (str | Unset):
        since (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StatsReport
    """

    return sync_detailed(
        client=client,
        group_by=group_by,
        window=window,
        since=since,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    group_by: str | Unset = UNSET,
    window: str | Unset = UNSET,
    since: str | Unset = UNSET,
) -> Response[Problem | StatsReport]:
    """Delivery statistics.

     Scope `read`. Per template, channel or provider over a window: counts
    by status, failure rate, suppression reasons, p50/p95 accepted-to-sent
    time and a series per minute (1 hour), hour (up to 8 days) or day.

    Args:
        group_by (str | Unset):
        window (str | Unset):
        since (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StatsReport]
    """

    kwargs = _get_kwargs(
        group_by=group_by,
        window=window,
        since=since,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    group_by: str | Unset = UNSET,
    window: str | Unset = UNSET,
    since: str | Unset = UNSET,
) -> Problem | StatsReport | None:
    """Delivery statistics.

     Scope `read`. Per template, channel or provider over a window: counts
    by status, failure rate, suppression reasons, p50/p95 accepted-to-sent
    time and a series per minute (1 hour), hour (up to 8 days) or day.

    Args:
        group_by (str | Unset):
        window (str | Unset):
        since (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StatsReport
    """

    return (
        await asyncio_detailed(
            client=client,
            group_by=group_by,
            window=window,
            since=since,
        )
    ).parsed
