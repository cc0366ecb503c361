from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.workflow_preview import WorkflowPreview
from ...models.workflow_preview_request import WorkflowPreviewRequest
from ...types import Response


def _get_kwargs(
    key: str,
    *,
    body: WorkflowPreviewRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/workflows/{key}/preview".format(
            key=quote(str(key), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | WorkflowPreview | None:
    if response.status_code == 200:
        response_200 = WorkflowPreview.from_dict(response.json())

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
) -> Response[Problem | WorkflowPreview]:
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
    body: WorkflowPreviewRequest,
) -> Response[Problem | WorkflowPreview]:
    """Dry-run a workflow.

     Scope `templates` or `read`. Says which steps of a version (or of an
    unsaved draft) would run for the given data and recipient (a stored
    profile's `id` brings its fields), and for each that would not, or
    that depends on how an earlier step turns out, the condition why.
    Nothing is sent or stored.

    Args:
        key (str):
        body (WorkflowPreviewRequest): What to run a dry run with.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WorkflowPreview]
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
    body: WorkflowPreviewRequest,
) -> Problem | WorkflowPreview | None:
    """Dry-run a workflow.

     Scope `templates` or `read`. Says which steps of a version (or of an
    unsaved draft) would run for the given data and recipient (a stored
    profile's `id` brings its fields), and for each that would not, or
    that depends on how an earlier step turns out, the condition why.
    Nothing is sent or stored.

    Args:
        key (str):
        body (WorkflowPreviewRequest): What to run a dry run with.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WorkflowPreview
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
    body: WorkflowPreviewRequest,
) -> Response[Problem | WorkflowPreview]:
    """Dry-run a workflow.

     Scope `templates` or `read`. Says which steps of a version (or of an
    unsaved draft) would run for the given data and recipient (a stored
    profile's `id` brings its fields), and for each that would not, or
    that depends on how an earlier step turns out, the condition why.
    Nothing is sent or stored.

    Args:
        key (str):
        body (WorkflowPreviewRequest): What to run a dry run with.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WorkflowPreview]
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
    body: WorkflowPreviewRequest,
) -> Problem | WorkflowPreview | None:
    """Dry-run a workflow.

     Scope `templates` or `read`. Says which steps of a version (or of an
    unsaved draft) would run for the given data and recipient (a stored
    profile's `id` brings its fields), and for each that would not, or
    that depends on how an earlier step turns out, the condition why.
    Nothing is sent or stored.

    Args:
        key (str):
        body (WorkflowPreviewRequest): What to run a dry run with.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WorkflowPreview
    """

    return (
        await asyncio_detailed(
            key=key,
            client=client,
            body=body,
        )
    ).parsed
