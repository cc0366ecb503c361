from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="EndpointWithSecret")


@_attrs_define
class EndpointWithSecret:
    """An endpoint with its secret: the answer that makes one.

    Attributes:
        created_at (str):
        description (str):
        enabled (bool):
        id (str):
        secret_prefix (str): The start of its signing secret, e.g. `whsec_MfKQ…`.
        updated_at (str):
        url (str):
        secret (str): The signing secret, shown only in this answer.
        disabled_reason (None | str | Unset): Why it is disabled, when it is.
        event_types (list[str] | None | Unset): The event types it receives; `null`: every type.
        failing_since (None | str | Unset): Since when (RFC 3339) every attempt has failed; `null` while it
            succeeds.
        previous_secret_until (None | str | Unset): Until when (RFC 3339) the previous secret still signs beside it.
    """

    created_at: str
    description: str
    enabled: bool
    id: str
    secret_prefix: str
    updated_at: str
    url: str
    secret: str
    disabled_reason: None | str | Unset = UNSET
    event_types: list[str] | None | Unset = UNSET
    failing_since: None | str | Unset = UNSET
    previous_secret_until: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        description = self.description

        enabled = self.enabled

        id = self.id

        secret_prefix = self.secret_prefix

        updated_at = self.updated_at

        url = self.url

        secret = self.secret

        disabled_reason: None | str | Unset
        if isinstance(self.disabled_reason, Unset):
            disabled_reason = UNSET
        else:
            disabled_reason = self.disabled_reason

        event_types: list[str] | None | Unset
        if isinstance(self.event_types, Unset):
            event_types = UNSET
        elif isinstance(self.event_types, list):
            event_types = self.event_types

        else:
            event_types = self.event_types

        failing_since: None | str | Unset
        if isinstance(self.failing_since, Unset):
            failing_since = UNSET
        else:
            failing_since = self.failing_since

        previous_secret_until: None | str | Unset
        if isinstance(self.previous_secret_until, Unset):
            previous_secret_until = UNSET
        else:
            previous_secret_until = self.previous_secret_until

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "description": description,
                "enabled": enabled,
                "id": id,
                "secret_prefix": secret_prefix,
                "updated_at": updated_at,
                "url": url,
                "secret": secret,
            }
        )
        if disabled_reason is not UNSET:
            field_dict["disabled_reason"] = disabled_reason
        if event_types is not UNSET:
            field_dict["event_types"] = event_types
        if failing_since is not UNSET:
            field_dict["failing_since"] = failing_since
        if previous_secret_until is not UNSET:
            field_dict["previous_secret_until"] = previous_secret_until

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        description = d.pop("description")

        enabled = d.pop("enabled")

        id = d.pop("id")

        secret_prefix = d.pop("secret_prefix")

        updated_at = d.pop("updated_at")

        url = d.pop("url")

        secret = d.pop("secret")

        def _parse_disabled_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        disabled_reason = _parse_disabled_reason(d.pop("disabled_reason", UNSET))

        def _parse_event_types(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                event_types_type_0 = cast(list[str], data)

                return event_types_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        event_types = _parse_event_types(d.pop("event_types", UNSET))

        def _parse_failing_since(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        failing_since = _parse_failing_since(d.pop("failing_since", UNSET))

        def _parse_previous_secret_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        previous_secret_until = _parse_previous_secret_until(
            d.pop("previous_secret_until", UNSET)
        )

        endpoint_with_secret = cls(
            created_at=created_at,
            description=description,
            enabled=enabled,
            id=id,
            secret_prefix=secret_prefix,
            updated_at=updated_at,
            url=url,
            secret=secret,
            disabled_reason=disabled_reason,
            event_types=event_types,
            failing_since=failing_since,
            previous_secret_until=previous_secret_until,
        )

        endpoint_with_secret.additional_properties = d
        return endpoint_with_secret

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
