from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.preferences_categories import PreferencesCategories
    from ..models.preferences_channels import PreferencesChannels


T = TypeVar("T", bound="Preferences")


@_attrs_define
class Preferences:
    """Opt-outs: `false` turns a channel or category off for this recipient.

    Attributes:
        categories (PreferencesCategories | Unset): By category: `transactional`, `marketing`, `auth`.
        channels (PreferencesChannels | Unset): By channel: `email`, `sms`, `webhook`, `in_app`, `chat`, `push`.
    """

    categories: PreferencesCategories | Unset = UNSET
    channels: PreferencesChannels | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        categories: dict[str, Any] | Unset = UNSET
        if not isinstance(self.categories, Unset):
            categories = self.categories.to_dict()

        channels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.channels, Unset):
            channels = self.channels.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if categories is not UNSET:
            field_dict["categories"] = categories
        if channels is not UNSET:
            field_dict["channels"] = channels

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.preferences_categories import PreferencesCategories
        from ..models.preferences_channels import PreferencesChannels

        d = dict(src_dict)
        _categories = d.pop("categories", UNSET)
        categories: PreferencesCategories | Unset
        if isinstance(_categories, Unset):
            categories = UNSET
        else:
            categories = PreferencesCategories.from_dict(_categories)

        _channels = d.pop("channels", UNSET)
        channels: PreferencesChannels | Unset
        if isinstance(_channels, Unset):
            channels = UNSET
        else:
            channels = PreferencesChannels.from_dict(_channels)

        preferences = cls(
            categories=categories,
            channels=channels,
        )

        return preferences
