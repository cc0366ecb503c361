from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    token: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["token"] = token

    params["last_event_id"] = last_event_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/recipients/{id}/inbox/ws".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | None:
    if response.status_code == 101:
        response_101 = cast(Any, None)
        return response_101

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
) -> Response[Any | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    token: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Stream a recipient's inbox (WebSocket).

     Scope `send` or `read`, or the recipient's inbox token. Server frames:
    `{"type": "message", "message": {...}}`, `{"type": "read", ...}`;
    client commands: `{"type": "read", "id": ...}`, `{"type": "read_all"}`.

    Args:
        id (str):
        token (str | Unset):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
        token=token,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    token: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Any | Problem | None:
    """Stream a recipient's inbox (WebSocket).

     Scope `send` or `read`, or the recipient's inbox token. Server frames:
    `{"type": "message", "message": {...}}`, `{"type": "read", ...}`;
    client commands: `{"type": "read", "id": ...}`, `{"type": "read_all"}`.

    Args:
        id (str):
        token (str | Unset):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return sync_detailed(
        id=id,
        client=client,
        token=token,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    token: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Stream a recipient's inbox (WebSocket).

     Scope `send` or `read`, or the recipient's inbox token. Server frames:
    `{"type": "message", "message": {...}}`, `{"type": "read", ...}`;
    client commands: `{"type": "read", "id": ...}`, `{"type": "read_all"}`.

    Args:
        id (str):
        token (str | Unset):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
        token=token,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    token: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Any | Problem | None:
    """Stream a recipient's inbox (WebSocket).

     Scope `send` or `read`, or the recipient's inbox token. Server frames:
    `{"type": "message", "message": {...}}`, `{"type": "read", ...}`;
    client commands: `{"type": "read", "id": ...}`, `{"type": "read_all"}`.

    Args:
        id (str):
        token (str | Unset):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            token=token,
            last_event_id=last_event_id,
        )
    ).parsed
