from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ReceiptAnswer")


@_attrs_define
class ReceiptAnswer:
    """What a call's receipts did.

    Attributes:
        moved (int): Receipts that moved their delivery to a new status.
        recorded (int): Receipts recorded in their delivery's log (moved or not).
        unknown (int): Receipts naming no delivery here: acknowledged and ignored.
    """

    moved: int
    recorded: int
    unknown: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        moved = self.moved

        recorded = self.recorded

        unknown = self.unknown

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "moved": moved,
                "recorded": recorded,
                "unknown": unknown,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        moved = d.pop("moved")

        recorded = d.pop("recorded")

        unknown = d.pop("unknown")

        receipt_answer = cls(
            moved=moved,
            recorded=recorded,
            unknown=unknown,
        )

        receipt_answer.additional_properties = d
        return receipt_answer

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
