from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.schedule_data import ScheduleData
    from ..models.schedule_target import ScheduleTarget
    from ..models.schedule_to_item import ScheduleToItem


T = TypeVar("T", bound="Schedule")


@_attrs_define
class Schedule:
    """A recurring schedule and when it fires next.

    Attributes:
        created_at (str): RFC 3339.
        data (ScheduleData):
        id (str):
        paused (bool):
        schedule (str): As given: `daily HH:MM`, `weekly <day> HH:MM` or a cron expression.
        targets (list[ScheduleTarget]): When it fires in each timezone its recipients are in (one, unless
            `timezone` is `recipient`).
        timezone (str): An IANA timezone, or `recipient`.
        to (list[ScheduleToItem]): The recipients, as given.
        updated_at (str): RFC 3339.
        workflow (str):
        next_fire_at (None | str | Unset): RFC 3339: the next firing (the earliest of its timezones); none
            while paused.
    """

    created_at: str
    data: ScheduleData
    id: str
    paused: bool
    schedule: str
    targets: list[ScheduleTarget]
    timezone: str
    to: list[ScheduleToItem]
    updated_at: str
    workflow: str
    next_fire_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        data = self.data.to_dict()

        id = self.id

        paused = self.paused

        schedule = self.schedule

        targets = []
        for targets_item_data in self.targets:
            targets_item = targets_item_data.to_dict()
            targets.append(targets_item)

        timezone = self.timezone

        to = []
        for to_item_data in self.to:
            to_item = to_item_data.to_dict()
            to.append(to_item)

        updated_at = self.updated_at

        workflow = self.workflow

        next_fire_at: None | str | Unset
        if isinstance(self.next_fire_at, Unset):
            next_fire_at = UNSET
        else:
            next_fire_at = self.next_fire_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "data": data,
                "id": id,
                "paused": paused,
                "schedule": schedule,
                "targets": targets,
                "timezone": timezone,
                "to": to,
                "updated_at": updated_at,
                "workflow": workflow,
            }
        )
        if next_fire_at is not UNSET:
            field_dict["next_fire_at"] = next_fire_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.schedule_data import ScheduleData
        from ..models.schedule_target import ScheduleTarget
        from ..models.schedule_to_item import ScheduleToItem

        d = dict(src_dict)
        created_at = d.pop("created_at")

        data = ScheduleData.from_dict(d.pop("data"))

        id = d.pop("id")

        paused = d.pop("paused")

        schedule = d.pop("schedule")

        targets = []
        _targets = d.pop("targets")
        for targets_item_data in _targets:
            targets_item = ScheduleTarget.from_dict(targets_item_data)

            targets.append(targets_item)

        timezone = d.pop("timezone")

        to = []
        _to = d.pop("to")
        for to_item_data in _to:
            to_item = ScheduleToItem.from_dict(to_item_data)

            to.append(to_item)

        updated_at = d.pop("updated_at")

        workflow = d.pop("workflow")

        def _parse_next_fire_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_fire_at = _parse_next_fire_at(d.pop("next_fire_at", UNSET))

        schedule = cls(
            created_at=created_at,
            data=data,
            id=id,
            paused=paused,
            schedule=schedule,
            targets=targets,
            timezone=timezone,
            to=to,
            updated_at=updated_at,
            workflow=workflow,
            next_fire_at=next_fire_at,
        )

        schedule.additional_properties = d
        return schedule

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
