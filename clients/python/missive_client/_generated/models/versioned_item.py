from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="VersionedItem")


@_attrs_define
class VersionedItem:
    """A template or workflow in a list.

    Attributes:
        created_at (str): RFC 3339.
        current_version (int):
        key (str):
        name (str):
        updated_at (str): RFC 3339.
        archived_at (None | str | Unset): RFC 3339; set once archived.
    """

    created_at: str
    current_version: int
    key: str
    name: str
    updated_at: str
    archived_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        current_version = self.current_version

        key = self.key

        name = self.name

        updated_at = self.updated_at

        archived_at: None | str | Unset
        if isinstance(self.archived_at, Unset):
            archived_at = UNSET
        else:
            archived_at = self.archived_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "current_version": current_version,
                "key": key,
                "name": name,
                "updated_at": updated_at,
            }
        )
        if archived_at is not UNSET:
            field_dict["archived_at"] = archived_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        current_version = d.pop("current_version")

        key = d.pop("key")

        name = d.pop("name")

        updated_at = d.pop("updated_at")

        def _parse_archived_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        archived_at = _parse_archived_at(d.pop("archived_at", UNSET))

        versioned_item = cls(
            created_at=created_at,
            current_version=current_version,
            key=key,
            name=name,
            updated_at=updated_at,
            archived_at=archived_at,
        )

        versioned_item.additional_properties = d
        return versioned_item

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
