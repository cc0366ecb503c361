from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DeliveryFields")


@_attrs_define
class DeliveryFields:
    """What every view of a delivery shows.

    Attributes:
        address (str): Where it goes; a chat address's webhook URL shows its host only.
        category (str):
        channel (str): `email`, `sms`, `webhook`, `in_app` or `chat`.
        created_at (str): RFC 3339.
        id (str):
        notification_id (str):
        priority (str): `high`, `normal` or `low`.
        recipient (str): The recipient's id, else its address.
        status (str): `queued`, `scheduled`, `sending`, `retrying`, `sent`, `failed`,
            `cancelled` or `suppressed`; after `sent`, a provider's receipt may
            move it on to `delivered`, `undelivered`, `bounced` or `complained`.
        updated_at (str): RFC 3339.
        last_error (None | str | Unset):
        next_attempt_at (None | str | Unset): RFC 3339, while the delivery waits.
        provider (None | str | Unset): The provider of the last attempt.
        reason (None | str | Unset): Why it was suppressed, failed or cancelled.
        template (None | str | Unset): The template's key; none for inline content.
    """

    address: str
    category: str
    channel: str
    created_at: str
    id: str
    notification_id: str
    priority: str
    recipient: str
    status: str
    updated_at: str
    last_error: None | str | Unset = UNSET
    next_attempt_at: None | str | Unset = UNSET
    provider: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    template: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        address = self.address

        category = self.category

        channel = self.channel

        created_at = self.created_at

        id = self.id

        notification_id = self.notification_id

        priority = self.priority

        recipient = self.recipient

        status = self.status

        updated_at = self.updated_at

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        else:
            next_attempt_at = self.next_attempt_at

        provider: None | str | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        else:
            provider = self.provider

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "address": address,
                "category": category,
                "channel": channel,
                "created_at": created_at,
                "id": id,
                "notification_id": notification_id,
                "priority": priority,
                "recipient": recipient,
                "status": status,
                "updated_at": updated_at,
            }
        )
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if next_attempt_at is not UNSET:
            field_dict["next_attempt_at"] = next_attempt_at
        if provider is not UNSET:
            field_dict["provider"] = provider
        if reason is not UNSET:
            field_dict["reason"] = reason
        if template is not UNSET:
            field_dict["template"] = template

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        address = d.pop("address")

        category = d.pop("category")

        channel = d.pop("channel")

        created_at = d.pop("created_at")

        id = d.pop("id")

        notification_id = d.pop("notification_id")

        priority = d.pop("priority")

        recipient = d.pop("recipient")

        status = d.pop("status")

        updated_at = d.pop("updated_at")

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at", UNSET))

        def _parse_provider(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))

        delivery_fields = cls(
            address=address,
            category=category,
            channel=channel,
            created_at=created_at,
            id=id,
            notification_id=notification_id,
            priority=priority,
            recipient=recipient,
            status=status,
            updated_at=updated_at,
            last_error=last_error,
            next_attempt_at=next_attempt_at,
            provider=provider,
            reason=reason,
            template=template,
        )

        delivery_fields.additional_properties = d
        return delivery_fields

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
