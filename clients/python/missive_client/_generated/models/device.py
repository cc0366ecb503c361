from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Device")


@_attrs_define
class Device:
    """A stored device. A subscription's `auth` secret is never shown.

    Attributes:
        created_at (str): RFC 3339.
        id (str): `dev_` and 24 hex digits, derived from the recipient and the
            endpoint or token.
        kind (str): `webpush`, `fcm` or `apns`.
        updated_at (str): RFC 3339.
        app (None | str | Unset):
        endpoint (None | str | Unset):
        p256dh (None | str | Unset): The subscription's public key (base64url).
        platform (None | str | Unset):
        token (None | str | Unset):
    """

    created_at: str
    id: str
    kind: str
    updated_at: str
    app: None | str | Unset = UNSET
    endpoint: None | str | Unset = UNSET
    p256dh: None | str | Unset = UNSET
    platform: None | str | Unset = UNSET
    token: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        id = self.id

        kind = self.kind

        updated_at = self.updated_at

        app: None | str | Unset
        if isinstance(self.app, Unset):
            app = UNSET
        else:
            app = self.app

        endpoint: None | str | Unset
        if isinstance(self.endpoint, Unset):
            endpoint = UNSET
        else:
            endpoint = self.endpoint

        p256dh: None | str | Unset
        if isinstance(self.p256dh, Unset):
            p256dh = UNSET
        else:
            p256dh = self.p256dh

        platform: None | str | Unset
        if isinstance(self.platform, Unset):
            platform = UNSET
        else:
            platform = self.platform

        token: None | str | Unset
        if isinstance(self.token, Unset):
            token = UNSET
        else:
            token = self.token

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "kind": kind,
                "updated_at": updated_at,
            }
        )
        if app is not UNSET:
            field_dict["app"] = app
        if endpoint is not UNSET:
            field_dict["endpoint"] = endpoint
        if p256dh is not UNSET:
            field_dict["p256dh"] = p256dh
        if platform is not UNSET:
            field_dict["platform"] = platform
        if token is not UNSET:
            field_dict["token"] = token

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        id = d.pop("id")

        kind = d.pop("kind")

        updated_at = d.pop("updated_at")

        def _parse_app(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        app = _parse_app(d.pop("app", UNSET))

        def _parse_endpoint(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        endpoint = _parse_endpoint(d.pop("endpoint", UNSET))

        def _parse_p256dh(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        p256dh = _parse_p256dh(d.pop("p256dh", UNSET))

        def _parse_platform(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        platform = _parse_platform(d.pop("platform", UNSET))

        def _parse_token(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token = _parse_token(d.pop("token", UNSET))

        device = cls(
            created_at=created_at,
            id=id,
            kind=kind,
            updated_at=updated_at,
            app=app,
            endpoint=endpoint,
            p256dh=p256dh,
            platform=platform,
            token=token,
        )

        device.additional_properties = d
        return device

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
