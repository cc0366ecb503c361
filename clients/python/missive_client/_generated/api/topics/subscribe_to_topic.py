from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.changed import Changed
from ...models.problem import Problem
from ...models.subscribers import Subscribers
from ...types import Response


def _get_kwargs(
    key: str,
    *,
    body: Subscribers,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/topics/{key}/subscribers".format(
            key=quote(str(key), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Changed | Problem | None:
    if response.status_code == 200:
        response_200 = Changed.from_dict(response.json())

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
) -> Response[Changed | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    key: str,
    *,
    client: AuthenticatedClient,
    body: Subscribers,
) -> Response[Changed | Problem]:
    """Subscribe recipients to a topic.

     Scope `send`. 1 to 10,000 stored recipients' ids a call; one already
    subscribed stays as it was, so a repeated call changes nothing. An id
    that names no stored recipient refuses the whole call (422 naming each
    `recipients[i]`): store the profile first.

    Args:
        key (str):
        body (Subscribers): Recipient ids to subscribe or unsubscribe.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Changed | Problem]
    """

    kwargs = _get_kwargs(
        key=key,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    key: str,
    *,
    client: AuthenticatedClient,
    body: Subscribers,
) -> Changed | Problem | None:
    """Subscribe recipients to a topic.

     Scope `send`. 1 to 10,000 stored recipients' ids a call; one already
    subscribed stays as it was, so a repeated call changes nothing. An id
    that names no stored recipient refuses the whole call (422 naming each
    `recipients[i]`): store the profile first.

    Args:
        key (str):
        body (Subscribers): Recipient ids to subscribe or unsubscribe.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Changed | Problem
    """

    return sync_detailed(
        key=key,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    key: str,
    *,
    client: AuthenticatedClient,
    body: Subscribers,
) -> Response[Changed | Problem]:
    """Subscribe recipients to a topic.

     Scope `send`. 1 to 10,000 stored recipients' ids a call; one already
    subscribed stays as it was, so a repeated call changes nothing. An id
    that names no stored recipient refuses the whole call (422 naming each
    `recipients[i]`): store the profile first.

    Args:
        key (str):
        body (Subscribers): Recipient ids to subscribe or unsubscribe.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Changed | Problem]
    """

    kwargs = _get_kwargs(
        key=key,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    key: str,
    *,
    client: AuthenticatedClient,
    body: Subscribers,
) -> Changed | Problem | None:
    """Subscribe recipients to a topic.

     Scope `send`. 1 to 10,000 stored recipients' ids a call; one already
    subscribed stays as it was, so a repeated call changes nothing. An id
    that names no stored recipient refuses the whole call (422 naming each
    `recipients[i]`): store the profile first.

    Args:
        key (str):
        body (Subscribers): Recipient ids to subscribe or unsubscribe.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Changed | Problem
    """

    return (
        await asyncio_detailed(
            key=key,
            client=client,
            body=body,
        )
    ).parsed
