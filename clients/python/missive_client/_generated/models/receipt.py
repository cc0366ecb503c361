from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Receipt")


@_attrs_define
class Receipt:
    """A provider's report on a delivery it took (README, "Receipts").

    Attributes:
        detail (str): The provider's words.
        event (str): The provider's word: `delivered`, `bounce`, `HardBounce`, ...
        moved (bool): Whether it moved the delivery to that status (a late or repeated
            receipt moves nothing).
        received_at (str): RFC 3339.
        source (str): `twilio`, `sendgrid` or `postmark`.
        status (None | str | Unset): The status it means (`delivered`, `undelivered`, `bounced`,
            `complained`); none when it is recorded only.
    """

    detail: str
    event: str
    moved: bool
    received_at: str
    source: str
    status: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail

        event = self.event

        moved = self.moved

        received_at = self.received_at

        source = self.source

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "event": event,
                "moved": moved,
                "received_at": received_at,
                "source": source,
            }
        )
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        detail = d.pop("detail")

        event = d.pop("event")

        moved = d.pop("moved")

        received_at = d.pop("received_at")

        source = d.pop("source")

        def _parse_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        receipt = cls(
            detail=detail,
            event=event,
            moved=moved,
            received_at=received_at,
            source=source,
            status=status,
        )

        receipt.additional_properties = d
        return receipt

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
