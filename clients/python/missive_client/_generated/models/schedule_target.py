from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ScheduleTarget")


@_attrs_define
class ScheduleTarget:
    """A schedule's firings in one timezone.

    Attributes:
        next_fire_at (str): RFC 3339.
        recipients (int): How many of the recipients are in it.
        timezone (str):
        last_error (None | str | Unset): Why the last firing could not trigger the workflow.
        last_fired_at (None | str | Unset): RFC 3339.
        last_notification (None | str | Unset): The notification the last firing made.
    """

    next_fire_at: str
    recipients: int
    timezone: str
    last_error: None | str | Unset = UNSET
    last_fired_at: None | str | Unset = UNSET
    last_notification: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        next_fire_at = self.next_fire_at

        recipients = self.recipients

        timezone = self.timezone

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        last_fired_at: None | str | Unset
        if isinstance(self.last_fired_at, Unset):
            last_fired_at = UNSET
        else:
            last_fired_at = self.last_fired_at

        last_notification: None | str | Unset
        if isinstance(self.last_notification, Unset):
            last_notification = UNSET
        else:
            last_notification = self.last_notification

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "next_fire_at": next_fire_at,
                "recipients": recipients,
                "timezone": timezone,
            }
        )
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if last_fired_at is not UNSET:
            field_dict["last_fired_at"] = last_fired_at
        if last_notification is not UNSET:
            field_dict["last_notification"] = last_notification

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        next_fire_at = d.pop("next_fire_at")

        recipients = d.pop("recipients")

        timezone = d.pop("timezone")

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_last_fired_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_fired_at = _parse_last_fired_at(d.pop("last_fired_at", UNSET))

        def _parse_last_notification(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_notification = _parse_last_notification(d.pop("last_notification", UNSET))

        schedule_target = cls(
            next_fire_at=next_fire_at,
            recipients=recipients,
            timezone=timezone,
            last_error=last_error,
            last_fired_at=last_fired_at,
            last_notification=last_notification,
        )

        schedule_target.additional_properties = d
        return schedule_target

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
