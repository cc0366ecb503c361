from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.shared_view_content import SharedViewContent


T = TypeVar("T", bound="SharedView")


@_attrs_define
class SharedView:
    """One version of a layout or partial with its content.

    Attributes:
        content (SharedViewContent): A layout's `html`, `text` and `locales`, or a partial's `source`
            and `locales`.
        created_at (str): RFC 3339.
        current_version (int): The version templates use.
        key (str):
        name (str):
        updated_at (str): RFC 3339.
        used_by (list[str]): The templates whose current version names it.
        version (int): The version shown.
        archived_at (None | str | Unset): RFC 3339; set once archived.
    """

    content: SharedViewContent
    created_at: str
    current_version: int
    key: str
    name: str
    updated_at: str
    used_by: list[str]
    version: int
    archived_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        content = self.content.to_dict()

        created_at = self.created_at

        current_version = self.current_version

        key = self.key

        name = self.name

        updated_at = self.updated_at

        used_by = self.used_by

        version = self.version

        archived_at: None | str | Unset
        if isinstance(self.archived_at, Unset):
            archived_at = UNSET
        else:
            archived_at = self.archived_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "content": content,
                "created_at": created_at,
                "current_version": current_version,
                "key": key,
                "name": name,
                "updated_at": updated_at,
                "used_by": used_by,
                "version": version,
            }
        )
        if archived_at is not UNSET:
            field_dict["archived_at"] = archived_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.shared_view_content import SharedViewContent

        d = dict(src_dict)
        content = SharedViewContent.from_dict(d.pop("content"))

        created_at = d.pop("created_at")

        current_version = d.pop("current_version")

        key = d.pop("key")

        name = d.pop("name")

        updated_at = d.pop("updated_at")

        used_by = cast(list[str], d.pop("used_by"))

        version = d.pop("version")

        def _parse_archived_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        archived_at = _parse_archived_at(d.pop("archived_at", UNSET))

        shared_view = cls(
            content=content,
            created_at=created_at,
            current_version=current_version,
            key=key,
            name=name,
            updated_at=updated_at,
            used_by=used_by,
            version=version,
            archived_at=archived_at,
        )

        shared_view.additional_properties = d
        return shared_view

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
