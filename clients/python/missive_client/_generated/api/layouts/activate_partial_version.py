from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.shared_view import SharedView
from ...types import Response


def _get_kwargs(
    key: str,
    n: int,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/partials/{key}/versions/{n}/activate".format(
            key=quote(str(key), safe=""),
            n=quote(str(n), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | SharedView | None:
    if response.status_code == 200:
        response_200 = SharedView.from_dict(response.json())

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
) -> Response[Problem | SharedView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    key: str,
    n: int,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | SharedView]:
    """Roll a partial back (or forward) to a version.

     Scope `templates`. The version becomes the one templates use.

    Args:
        key (str):
        n (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | SharedView]
    """

    kwargs = _get_kwargs(
        key=key,
        n=n,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    key: str,
    n: int,
    *,
    client: AuthenticatedClient,
) -> Problem | SharedView | None:
    """Roll a partial back (or forward) to a version.

     Scope `templates`. The version becomes the one templates use.

    Args:
        key (str):
        n (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | SharedView
    """

    return sync_detailed(
        key=key,
        n=n,
        client=client,
    ).parsed


async def asyncio_detailed(
    key: str,
    n: int,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | SharedView]:
    """Roll a partial back (or forward) to a version.

     Scope `templates`. The version becomes the one templates use.

    Args:
        key (str):
        n (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | SharedView]
    """

    kwargs = _get_kwargs(
        key=key,
        n=n,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    key: str,
    n: int,
    *,
    client: AuthenticatedClient,
) -> Problem | SharedView | None:
    """Roll a partial back (or forward) to a version.

     Scope `templates`. The version becomes the one templates use.

    Args:
        key (str):
        n (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | SharedView
    """

    return (
        await asyncio_detailed(
            key=key,
            n=n,
            client=client,
        )
    ).parsed
