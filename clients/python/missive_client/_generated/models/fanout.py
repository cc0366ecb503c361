from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Fanout")


@_attrs_define
class Fanout:
    """A fan-out as the notification shows it.

    Attributes:
        fanned_out (int): Subscribers reached so far: each has its deliveries (or runs).
        status (str): `pending` (not started, or waiting for `send_at`), `running`,
            `done`, `cancelled` or `failed` (why, in `error`).
        topic (str):
        total (int): Subscribers when the send was accepted (those who unsubscribe
            before their batch are not reached).
        error (None | str | Unset):
    """

    fanned_out: int
    status: str
    topic: str
    total: int
    error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        fanned_out = self.fanned_out

        status = self.status

        topic = self.topic

        total = self.total

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "fanned_out": fanned_out,
                "status": status,
                "topic": topic,
                "total": total,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        fanned_out = d.pop("fanned_out")

        status = d.pop("status")

        topic = d.pop("topic")

        total = d.pop("total")

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        fanout = cls(
            fanned_out=fanned_out,
            status=status,
            topic=topic,
            total=total,
            error=error,
        )

        fanout.additional_properties = d
        return fanout

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
