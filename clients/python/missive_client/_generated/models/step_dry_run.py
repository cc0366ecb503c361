from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="StepDryRun")


@_attrs_define
class StepDryRun:
    """One step in a dry run.

    Attributes:
        id (str):
        runs (str): `yes`, `no`, or `depends` (on how an earlier step turns out: sent,
            read…).
        summary (str): What the step does, in a few words.
        type_ (str): `send`, `delay` or `digest`.
        because (None | str | Unset): For `no` and `depends`: the condition, as written.
    """

    id: str
    runs: str
    summary: str
    type_: str
    because: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        runs = self.runs

        summary = self.summary

        type_ = self.type_

        because: None | str | Unset
        if isinstance(self.because, Unset):
            because = UNSET
        else:
            because = self.because

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "runs": runs,
                "summary": summary,
                "type": type_,
            }
        )
        if because is not UNSET:
            field_dict["because"] = because

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        runs = d.pop("runs")

        summary = d.pop("summary")

        type_ = d.pop("type")

        def _parse_because(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        because = _parse_because(d.pop("because", UNSET))

        step_dry_run = cls(
            id=id,
            runs=runs,
            summary=summary,
            type_=type_,
            because=because,
        )

        step_dry_run.additional_properties = d
        return step_dry_run

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
