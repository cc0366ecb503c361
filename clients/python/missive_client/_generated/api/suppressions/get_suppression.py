from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.suppression import Suppression
from ...types import Response


def _get_kwargs(
    channel: str,
    address: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/suppressions/{channel}/{address}".format(
            channel=quote(str(channel), safe=""),
            address=quote(str(address), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | Suppression | None:
    if response.status_code == 200:
        response_200 = Suppression.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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
) -> Response[Problem | Suppression]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    channel: str,
    address: str,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | Suppression]:
    """Show whether an address is suppressed.

     Scope `read`. 404 when the address is not on the list.

    Args:
        channel (str):
        address (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Suppression]
    """

    kwargs = _get_kwargs(
        channel=channel,
        address=address,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    channel: str,
    address: str,
    *,
    client: AuthenticatedClient,
) -> Problem | Suppression | None:
    """Show whether an address is suppressed.

     Scope `read`. 404 when the address is not on the list.

    Args:
        channel (str):
        address (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Suppression
    """

    return sync_detailed(
        channel=channel,
        address=address,
        client=client,
    ).parsed


async def asyncio_detailed(
    channel: str,
    address: str,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | Suppression]:
    """Show whether an address is suppressed.

     Scope `read`. 404 when the address is not on the list.

    Args:
        channel (str):
        address (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Suppression]
    """

    kwargs = _get_kwargs(
        channel=channel,
        address=address,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    channel: str,
    address: str,
    *,
    client: AuthenticatedClient,
) -> Problem | Suppression | None:
    """Show whether an address is suppressed.

     Scope `read`. 404 when the address is not on the list.

    Args:
        channel (str):
        address (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Suppression
    """

    return (
        await asyncio_detailed(
            channel=channel,
            address=address,
            client=client,
        )
    ).parsed
