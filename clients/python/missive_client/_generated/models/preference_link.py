from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PreferenceLink")


@_attrs_define
class PreferenceLink:
    """A recipient's preference link.

    Attributes:
        expires_at (str): RFC 3339.
        recipient (str):
        url (str): `/p/{token}`: the preference page, no login needed. Absolute when
            `server.public_url` is set.
        unsubscribe_url (None | str | Unset): `/u/{token}`: RFC 8058 one-click unsubscribe (POST) from the
            category; a GET shows the preference page. Only with a category.
    """

    expires_at: str
    recipient: str
    url: str
    unsubscribe_url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        expires_at = self.expires_at

        recipient = self.recipient

        url = self.url

        unsubscribe_url: None | str | Unset
        if isinstance(self.unsubscribe_url, Unset):
            unsubscribe_url = UNSET
        else:
            unsubscribe_url = self.unsubscribe_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "expires_at": expires_at,
                "recipient": recipient,
                "url": url,
            }
        )
        if unsubscribe_url is not UNSET:
            field_dict["unsubscribe_url"] = unsubscribe_url

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        expires_at = d.pop("expires_at")

        recipient = d.pop("recipient")

        url = d.pop("url")

        def _parse_unsubscribe_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        unsubscribe_url = _parse_unsubscribe_url(d.pop("unsubscribe_url", UNSET))

        preference_link = cls(
            expires_at=expires_at,
            recipient=recipient,
            url=url,
            unsubscribe_url=unsubscribe_url,
        )

        preference_link.additional_properties = d
        return preference_link

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
