from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.workflow_step import WorkflowStep


T = TypeVar("T", bound="Workflow")


@_attrs_define
class Workflow:
    """One version of a workflow with its definition.

    Attributes:
        created_at (str): RFC 3339.
        current_version (int): The version triggers use.
        key (str):
        name (str):
        steps (list[WorkflowStep]):
        updated_at (str): RFC 3339.
        version (int): The version shown.
        archived_at (None | str | Unset): RFC 3339; set once archived.
        description (None | str | Unset):
    """

    created_at: str
    current_version: int
    key: str
    name: str
    steps: list[WorkflowStep]
    updated_at: str
    version: int
    archived_at: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        current_version = self.current_version

        key = self.key

        name = self.name

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        updated_at = self.updated_at

        version = self.version

        archived_at: None | str | Unset
        if isinstance(self.archived_at, Unset):
            archived_at = UNSET
        else:
            archived_at = self.archived_at

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "current_version": current_version,
                "key": key,
                "name": name,
                "steps": steps,
                "updated_at": updated_at,
                "version": version,
            }
        )
        if archived_at is not UNSET:
            field_dict["archived_at"] = archived_at
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.workflow_step import WorkflowStep

        d = dict(src_dict)
        created_at = d.pop("created_at")

        current_version = d.pop("current_version")

        key = d.pop("key")

        name = d.pop("name")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = WorkflowStep.from_dict(steps_item_data)

            steps.append(steps_item)

        updated_at = d.pop("updated_at")

        version = d.pop("version")

        def _parse_archived_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        archived_at = _parse_archived_at(d.pop("archived_at", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        workflow = cls(
            created_at=created_at,
            current_version=current_version,
            key=key,
            name=name,
            steps=steps,
            updated_at=updated_at,
            version=version,
            archived_at=archived_at,
            description=description,
        )

        workflow.additional_properties = d
        return workflow

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
