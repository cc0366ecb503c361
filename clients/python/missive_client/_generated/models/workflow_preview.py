from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.step_dry_run import StepDryRun


T = TypeVar("T", bound="WorkflowPreview")


@_attrs_define
class WorkflowPreview:
    """Which steps would run for the given data and recipient.

    Attributes:
        key (str):
        steps (list[StepDryRun]):
        version (int | None | Unset): The version tried; none for a draft.
    """

    key: str
    steps: list[StepDryRun]
    version: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        version: int | None | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "key": key,
                "steps": steps,
            }
        )
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.step_dry_run import StepDryRun

        d = dict(src_dict)
        key = d.pop("key")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepDryRun.from_dict(steps_item_data)

            steps.append(steps_item)

        def _parse_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        workflow_preview = cls(
            key=key,
            steps=steps,
            version=version,
        )

        workflow_preview.additional_properties = d
        return workflow_preview

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
