from http import HTTPStatus
from typing import Any
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
    last_event_id_query: str | Unset = UNSET,
    last_event_id_header: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id_header, Unset):
        headers["Last-Event-ID"] = last_event_id_header

    params: dict[str, Any] = {}

    params["token"] = token

    params["last_event_id"] = last_event_id_query

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/recipients/{id}/inbox/stream".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | str | None:
    if response.status_code == 200:
        response_200 = response.text
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
) -> Response[Problem | str]:
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
    last_event_id_query: str | Unset = UNSET,
    last_event_id_header: None | str | Unset = UNSET,
) -> Response[Problem | str]:
    """Stream a recipient's inbox (Server-Sent Events).

     Scope `send` or `read`, or the recipient's inbox token. Events:
    `message` (a new message), `read` (`{"ids": [...], "all": bool}`) and
    `end` (`{"reason": ...}`, when the server closes the stream).

    Args:
        id (str):
        token (str | Unset):
        last_event_id_query (str | Unset):
        last_event_id_header (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        id=id,
        token=token,
        last_event_id_query=last_event_id_query,
        last_event_id_header=last_event_id_header,
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
    last_event_id_query: str | Unset = UNSET,
    last_event_id_header: None | str | Unset = UNSET,
) -> Problem | str | None:
    """Stream a recipient's inbox (Server-Sent Events).

     Scope `send` or `read`, or the recipient's inbox token. Events:
    `message` (a new message), `read` (`{"ids": [...], "all": bool}`) and
    `end` (`{"reason": ...}`, when the server closes the stream).

    Args:
        id (str):
        token (str | Unset):
        last_event_id_query (str | Unset):
        last_event_id_header (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return sync_detailed(
        id=id,
        client=client,
        token=token,
        last_event_id_query=last_event_id_query,
        last_event_id_header=last_event_id_header,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    token: str | Unset = UNSET,
    last_event_id_query: str | Unset = UNSET,
    last_event_id_header: None | str | Unset = UNSET,
) -> Response[Problem | str]:
    """Stream a recipient's inbox (Server-Sent Events).

     Scope `send` or `read`, or the recipient's inbox token. Events:
    `message` (a new message), `read` (`{"ids": [...], "all": bool}`) and
    `end` (`{"reason": ...}`, when the server closes the stream).

    Args:
        id (str):
        token (str | Unset):
        last_event_id_query (str | Unset):
        last_event_id_header (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        id=id,
        token=token,
        last_event_id_query=last_event_id_query,
        last_event_id_header=last_event_id_header,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    token: str | Unset = UNSET,
    last_event_id_query: str | Unset = UNSET,
    last_event_id_header: None | str | Unset = UNSET,
) -> Problem | str | None:
    """Stream a recipient's inbox (Server-Sent Events).

     Scope `send` or `read`, or the recipient's inbox token. Events:
    `message` (a new message), `read` (`{"ids": [...], "all": bool}`) and
    `end` (`{"reason": ...}`, when the server closes the stream).

    Args:
        id (str):
        token (str | Unset):
        last_event_id_query (str | Unset):
        last_event_id_header (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            token=token,
            last_event_id_query=last_event_id_query,
            last_event_id_header=last_event_id_header,
        )
    ).parsed
