from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="InboxToken")


@_attrs_define
class InboxToken:
    """A token that opens one recipient's inbox.

    Attributes:
        expires_at (str): RFC 3339.
        expires_in (int): Seconds until it expires.
        recipient (str):
        token (str): Give it as `Authorization: Bearer <token>`, or `?token=` on streams.
    """

    expires_at: str
    expires_in: int
    recipient: str
    token: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        expires_at = self.expires_at

        expires_in = self.expires_in

        recipient = self.recipient

        token = self.token

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "expires_at": expires_at,
                "expires_in": expires_in,
                "recipient": recipient,
                "token": token,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        expires_at = d.pop("expires_at")

        expires_in = d.pop("expires_in")

        recipient = d.pop("recipient")

        token = d.pop("token")

        inbox_token = cls(
            expires_at=expires_at,
            expires_in=expires_in,
            recipient=recipient,
            token=token,
        )

        inbox_token.additional_properties = d
        return inbox_token

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
