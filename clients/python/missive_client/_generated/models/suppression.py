from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Suppression")


@_attrs_define
class Suppression:
    """An address missive does not send to.

    Attributes:
        address (str): The address (email addresses lower-cased).
        channel (str): `email` or `sms`.
        created_at (str): RFC 3339.
        detail (str): The provider's (or the operator's) words.
        reason (str): `bounced` or `complained`.
        source (str): Who put it here: `twilio`, `sendgrid`, `postmark` (a receipt),
            `api` or `console` (by hand).
        updated_at (str): RFC 3339.
        delivery_id (None | str | Unset): The delivery whose receipt put it here.
    """

    address: str
    channel: str
    created_at: str
    detail: str
    reason: str
    source: str
    updated_at: str
    delivery_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        address = self.address

        channel = self.channel

        created_at = self.created_at

        detail = self.detail

        reason = self.reason

        source = self.source

        updated_at = self.updated_at

        delivery_id: None | str | Unset
        if isinstance(self.delivery_id, Unset):
            delivery_id = UNSET
        else:
            delivery_id = self.delivery_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "address": address,
                "channel": channel,
                "created_at": created_at,
                "detail": detail,
                "reason": reason,
                "source": source,
                "updated_at": updated_at,
            }
        )
        if delivery_id is not UNSET:
            field_dict["delivery_id"] = delivery_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        address = d.pop("address")

        channel = d.pop("channel")

        created_at = d.pop("created_at")

        detail = d.pop("detail")

        reason = d.pop("reason")

        source = d.pop("source")

        updated_at = d.pop("updated_at")

        def _parse_delivery_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        delivery_id = _parse_delivery_id(d.pop("delivery_id", UNSET))

        suppression = cls(
            address=address,
            channel=channel,
            created_at=created_at,
            detail=detail,
            reason=reason,
            source=source,
            updated_at=updated_at,
            delivery_id=delivery_id,
        )

        suppression.additional_properties = d
        return suppression

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
