from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.push_keys import PushKeys


T = TypeVar("T", bound="PutDeviceBody")


@_attrs_define
class PutDeviceBody:
    """A device to add (or replace: the same endpoint or token again).

    Attributes:
        kind (str): `webpush`, `fcm` or `apns`.
        app (None | str | Unset): The app (its bundle id or package name). A device goes to the
            first push provider of its kind whose `apps` list this app (or
            that lists none).
        endpoint (None | str | Unset): `webpush`: the subscription's endpoint URL.
        expiration_time (int | None | Unset): Ignored: `PushSubscription.toJSON()` has it (usually null).
        keys (None | PushKeys | Unset):
        platform (None | str | Unset): Free text, e.g. `android`, `ios`, `chrome`.
        token (None | str | Unset): `fcm`, `apns`: the registration or device token.
    """

    kind: str
    app: None | str | Unset = UNSET
    endpoint: None | str | Unset = UNSET
    expiration_time: int | None | Unset = UNSET
    keys: None | PushKeys | Unset = UNSET
    platform: None | str | Unset = UNSET
    token: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.push_keys import PushKeys

        kind = self.kind

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

        expiration_time: int | None | Unset
        if isinstance(self.expiration_time, Unset):
            expiration_time = UNSET
        else:
            expiration_time = self.expiration_time

        keys: dict[str, Any] | None | Unset
        if isinstance(self.keys, Unset):
            keys = UNSET
        elif isinstance(self.keys, PushKeys):
            keys = self.keys.to_dict()
        else:
            keys = self.keys

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

        field_dict.update(
            {
                "kind": kind,
            }
        )
        if app is not UNSET:
            field_dict["app"] = app
        if endpoint is not UNSET:
            field_dict["endpoint"] = endpoint
        if expiration_time is not UNSET:
            field_dict["expirationTime"] = expiration_time
        if keys is not UNSET:
            field_dict["keys"] = keys
        if platform is not UNSET:
            field_dict["platform"] = platform
        if token is not UNSET:
            field_dict["token"] = token

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.push_keys import PushKeys

        d = dict(src_dict)
        kind = d.pop("kind")

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

        def _parse_expiration_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        expiration_time = _parse_expiration_time(d.pop("expirationTime", UNSET))

        def _parse_keys(data: object) -> None | PushKeys | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                keys_type_1 = PushKeys.from_dict(data)

                return keys_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PushKeys | Unset, data)

        keys = _parse_keys(d.pop("keys", UNSET))

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

        put_device_body = cls(
            kind=kind,
            app=app,
            endpoint=endpoint,
            expiration_time=expiration_time,
            keys=keys,
            platform=platform,
            token=token,
        )

        return put_device_body
