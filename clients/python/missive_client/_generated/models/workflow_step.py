from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.workflow_step_content_type_0 import WorkflowStepContentType0
    from ..models.workflow_step_if_type_0_item import WorkflowStepIfType0Item


T = TypeVar("T", bound="WorkflowStep")


@_attrs_define
class WorkflowStep:
    """One step of a workflow. `type` says which of the other fields apply:

    - `send`: `channel` (or `channels` with `mode`: `first_success` tries
      them in order until one is delivered, `all` sends on each), and
      `template` (a template's key) or `content` (parts per channel).
    - `delay`: `for` (a duration such as `30m`, up to 90 days) or `until`
      (`{{data.remind_at}}`, an RFC 3339 time from the data, or
      `quiet_hours_end`).
    - `digest`: events of the same workflow, recipient and `key`
      (`{{data.thread_id}}`) are merged while the window is open: `window`
      (a duration from the first event, up to 31 days) or `schedule`
      (`daily 09:00`, `weekly mon 09:00` or a cron expression, in the
      recipient's timezone); later steps render with `events` (up to
      `max_events`, default 100) and `count`.

    `if` lists conditions that must all hold: `{"step": "<id>", "is":
    "sent"|"failed"|"read"|"not_read"|"skipped"}`, `{"field":
    "data.…"|"recipient.…", "op": "equals"|"not_equals"|"in"|"not_in"|
    "exists"|"not_exists"|"gt"|"gte"|"lt"|"lte", "value": …}`, or
    `{"any": [...]}`.

        Attributes:
            id (str): Names the step for conditions and the run's timeline: 1 to 64
                letters, digits, `-` or `_`, unique in the workflow.
            type_ (str): `send`, `delay` or `digest`.
            channel (None | str | Unset):
            channels (list[str] | None | Unset):
            content (None | Unset | WorkflowStepContentType0):
            for_ (None | str | Unset):
            if_ (list[WorkflowStepIfType0Item] | None | Unset):
            key (None | str | Unset):
            max_events (int | None | Unset):
            mode (None | str | Unset):
            schedule (None | str | Unset):
            template (None | str | Unset):
            until (None | str | Unset):
            window (None | str | Unset):
    """

    id: str
    type_: str
    channel: None | str | Unset = UNSET
    channels: list[str] | None | Unset = UNSET
    content: None | Unset | WorkflowStepContentType0 = UNSET
    for_: None | str | Unset = UNSET
    if_: list[WorkflowStepIfType0Item] | None | Unset = UNSET
    key: None | str | Unset = UNSET
    max_events: int | None | Unset = UNSET
    mode: None | str | Unset = UNSET
    schedule: None | str | Unset = UNSET
    template: None | str | Unset = UNSET
    until: None | str | Unset = UNSET
    window: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.workflow_step_content_type_0 import WorkflowStepContentType0

        id = self.id

        type_ = self.type_

        channel: None | str | Unset
        if isinstance(self.channel, Unset):
            channel = UNSET
        else:
            channel = self.channel

        channels: list[str] | None | Unset
        if isinstance(self.channels, Unset):
            channels = UNSET
        elif isinstance(self.channels, list):
            channels = self.channels

        else:
            channels = self.channels

        content: dict[str, Any] | None | Unset
        if isinstance(self.content, Unset):
            content = UNSET
        elif isinstance(self.content, WorkflowStepContentType0):
            content = self.content.to_dict()
        else:
            content = self.content

        for_: None | str | Unset
        if isinstance(self.for_, Unset):
            for_ = UNSET
        else:
            for_ = self.for_

        if_: list[dict[str, Any]] | None | Unset
        if isinstance(self.if_, Unset):
            if_ = UNSET
        elif isinstance(self.if_, list):
            if_ = []
            for if_type_0_item_data in self.if_:
                if_type_0_item = if_type_0_item_data.to_dict()
                if_.append(if_type_0_item)

        else:
            if_ = self.if_

        key: None | str | Unset
        if isinstance(self.key, Unset):
            key = UNSET
        else:
            key = self.key

        max_events: int | None | Unset
        if isinstance(self.max_events, Unset):
            max_events = UNSET
        else:
            max_events = self.max_events

        mode: None | str | Unset
        if isinstance(self.mode, Unset):
            mode = UNSET
        else:
            mode = self.mode

        schedule: None | str | Unset
        if isinstance(self.schedule, Unset):
            schedule = UNSET
        else:
            schedule = self.schedule

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        until: None | str | Unset
        if isinstance(self.until, Unset):
            until = UNSET
        else:
            until = self.until

        window: None | str | Unset
        if isinstance(self.window, Unset):
            window = UNSET
        else:
            window = self.window

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "type": type_,
            }
        )
        if channel is not UNSET:
            field_dict["channel"] = channel
        if channels is not UNSET:
            field_dict["channels"] = channels
        if content is not UNSET:
            field_dict["content"] = content
        if for_ is not UNSET:
            field_dict["for"] = for_
        if if_ is not UNSET:
            field_dict["if"] = if_
        if key is not UNSET:
            field_dict["key"] = key
        if max_events is not UNSET:
            field_dict["max_events"] = max_events
        if mode is not UNSET:
            field_dict["mode"] = mode
        if schedule is not UNSET:
            field_dict["schedule"] = schedule
        if template is not UNSET:
            field_dict["template"] = template
        if until is not UNSET:
            field_dict["until"] = until
        if window is not UNSET:
            field_dict["window"] = window

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.workflow_step_content_type_0 import WorkflowStepContentType0
        from ..models.workflow_step_if_type_0_item import WorkflowStepIfType0Item

        d = dict(src_dict)
        id = d.pop("id")

        type_ = d.pop("type")

        def _parse_channel(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        channel = _parse_channel(d.pop("channel", UNSET))

        def _parse_channels(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                channels_type_0 = cast(list[str], data)

                return channels_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        channels = _parse_channels(d.pop("channels", UNSET))

        def _parse_content(data: object) -> None | Unset | WorkflowStepContentType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                content_type_0 = WorkflowStepContentType0.from_dict(data)

                return content_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WorkflowStepContentType0, data)

        content = _parse_content(d.pop("content", UNSET))

        def _parse_for_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        for_ = _parse_for_(d.pop("for", UNSET))

        def _parse_if_(data: object) -> list[WorkflowStepIfType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                if_type_0 = []
                _if_type_0 = data
                for if_type_0_item_data in _if_type_0:
                    if_type_0_item = WorkflowStepIfType0Item.from_dict(
                        if_type_0_item_data
                    )

                    if_type_0.append(if_type_0_item)

                return if_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[WorkflowStepIfType0Item] | None | Unset, data)

        if_ = _parse_if_(d.pop("if", UNSET))

        def _parse_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        key = _parse_key(d.pop("key", UNSET))

        def _parse_max_events(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_events = _parse_max_events(d.pop("max_events", UNSET))

        def _parse_mode(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        mode = _parse_mode(d.pop("mode", UNSET))

        def _parse_schedule(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        schedule = _parse_schedule(d.pop("schedule", UNSET))

        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))

        def _parse_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        until = _parse_until(d.pop("until", UNSET))

        def _parse_window(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        window = _parse_window(d.pop("window", UNSET))

        workflow_step = cls(
            id=id,
            type_=type_,
            channel=channel,
            channels=channels,
            content=content,
            for_=for_,
            if_=if_,
            key=key,
            max_events=max_events,
            mode=mode,
            schedule=schedule,
            template=template,
            until=until,
            window=window,
        )

        workflow_step.additional_properties = d
        return workflow_step

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
