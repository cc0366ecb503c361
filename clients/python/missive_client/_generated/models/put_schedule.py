from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.put_schedule_data_type_0 import PutScheduleDataType0
    from ..models.recipient_input import RecipientInput


T = TypeVar("T", bound="PutSchedule")


@_attrs_define
class PutSchedule:
    """A recurring schedule as `PUT` gives it.

    Attributes:
        schedule (str): `daily HH:MM`, `weekly <day> HH:MM` (mon … sun) or a five-field
            cron expression.
        to (list[RecipientInput]): 1 to 1,000 recipients, as in a send's `to`.
        workflow (str): The workflow to trigger.
        data (None | PutScheduleDataType0 | Unset): The trigger's data (a JSON object).
        timezone (None | str | Unset): An IANA timezone the times are in (default `UTC`), or `recipient`:
            each recipient's own (from its profile or its `to` entry, as the
            schedule is saved; `UTC` when it has none).
    """

    schedule: str
    to: list[RecipientInput]
    workflow: str
    data: None | PutScheduleDataType0 | Unset = UNSET
    timezone: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.put_schedule_data_type_0 import PutScheduleDataType0

        schedule = self.schedule

        to = []
        for to_item_data in self.to:
            to_item = to_item_data.to_dict()
            to.append(to_item)

        workflow = self.workflow

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, PutScheduleDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        timezone: None | str | Unset
        if isinstance(self.timezone, Unset):
            timezone = UNSET
        else:
            timezone = self.timezone

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "schedule": schedule,
                "to": to,
                "workflow": workflow,
            }
        )
        if data is not UNSET:
            field_dict["data"] = data
        if timezone is not UNSET:
            field_dict["timezone"] = timezone

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.put_schedule_data_type_0 import PutScheduleDataType0
        from ..models.recipient_input import RecipientInput

        d = dict(src_dict)
        schedule = d.pop("schedule")

        to = []
        _to = d.pop("to")
        for to_item_data in _to:
            to_item = RecipientInput.from_dict(to_item_data)

            to.append(to_item)

        workflow = d.pop("workflow")

        def _parse_data(data: object) -> None | PutScheduleDataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = PutScheduleDataType0.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PutScheduleDataType0 | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_timezone(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        timezone = _parse_timezone(d.pop("timezone", UNSET))

        put_schedule = cls(
            schedule=schedule,
            to=to,
            workflow=workflow,
            data=data,
            timezone=timezone,
        )

        return put_schedule
