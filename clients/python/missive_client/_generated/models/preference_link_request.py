from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PreferenceLinkRequest")


@_attrs_define
class PreferenceLinkRequest:
    """What a preference link is made for.

    Attributes:
        category (None | str | Unset): A category (`transactional` or `marketing`): the link's one-click
            unsubscribe (`POST /u/{token}`) turns it off. Without one, the link
            opens the preference page only.
    """

    category: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        category: None | str | Unset
        if isinstance(self.category, Unset):
            category = UNSET
        else:
            category = self.category

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if category is not UNSET:
            field_dict["category"] = category

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_category(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        category = _parse_category(d.pop("category", UNSET))

        preference_link_request = cls(
            category=category,
        )

        return preference_link_request
