from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.recipient_input import RecipientInput
    from ..models.send_request_content_type_0 import SendRequestContentType0
    from ..models.send_request_data_type_0 import SendRequestDataType0


T = TypeVar("T", bound="SendRequest")


@_attrs_define
class SendRequest:
    """A notification to send: a template (or inline content), recipients and
    data.

        Attributes:
            to (list[RecipientInput]): 1 to 10,000 recipients.
            cancel_key (None | str | Unset): With `workflow`: lets a later event cancel the runs this starts
                (`POST /v1/workflows/{key}/cancel`).
            category (None | str | Unset): `transactional` (default), `marketing` or `auth`.
            channels (list[str] | None | Unset): Only these channels (default: every channel the template has).
            content (None | SendRequestContentType0 | Unset): Inline template sources, shaped like a template's `channels`.
            data (None | SendRequestDataType0 | Unset): The template's data (a JSON object).
            dedup_key (None | str | Unset): Repeats with this key to the same recipient and channel within the
                dedup window are suppressed.
            locale (None | str | Unset):
            priority (None | str | Unset): `high`, `normal` (default) or `low`.
            send_at (None | str | Unset): RFC 3339 time to send at (default: now); for a workflow, when its
                runs start.
            template (None | str | Unset): The template's key; give this, `content` or `workflow`.
            workflow (None | str | Unset): A workflow's key, instead of `template` or `content`: each
                recipient gets a run of the workflow's current version, whose steps
                name their own templates and channels. `deliveries` in the answer
                then lists the runs (channel `workflow`).
    """

    to: list[RecipientInput]
    cancel_key: None | str | Unset = UNSET
    category: None | str | Unset = UNSET
    channels: list[str] | None | Unset = UNSET
    content: None | SendRequestContentType0 | Unset = UNSET
    data: None | SendRequestDataType0 | Unset = UNSET
    dedup_key: None | str | Unset = UNSET
    locale: None | str | Unset = UNSET
    priority: None | str | Unset = UNSET
    send_at: None | str | Unset = UNSET
    template: None | str | Unset = UNSET
    workflow: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.send_request_content_type_0 import SendRequestContentType0
        from ..models.send_request_data_type_0 import SendRequestDataType0

        to = []
        for to_item_data in self.to:
            to_item = to_item_data.to_dict()
            to.append(to_item)

        cancel_key: None | str | Unset
        if isinstance(self.cancel_key, Unset):
            cancel_key = UNSET
        else:
            cancel_key = self.cancel_key

        category: None | str | Unset
        if isinstance(self.category, Unset):
            category = UNSET
        else:
            category = self.category

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
        elif isinstance(self.content, SendRequestContentType0):
            content = self.content.to_dict()
        else:
            content = self.content

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, SendRequestDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        dedup_key: None | str | Unset
        if isinstance(self.dedup_key, Unset):
            dedup_key = UNSET
        else:
            dedup_key = self.dedup_key

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        priority: None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        else:
            priority = self.priority

        send_at: None | str | Unset
        if isinstance(self.send_at, Unset):
            send_at = UNSET
        else:
            send_at = self.send_at

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        workflow: None | str | Unset
        if isinstance(self.workflow, Unset):
            workflow = UNSET
        else:
            workflow = self.workflow

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "to": to,
            }
        )
        if cancel_key is not UNSET:
            field_dict["cancel_key"] = cancel_key
        if category is not UNSET:
            field_dict["category"] = category
        if channels is not UNSET:
            field_dict["channels"] = channels
        if content is not UNSET:
            field_dict["content"] = content
        if data is not UNSET:
            field_dict["data"] = data
        if dedup_key is not UNSET:
            field_dict["dedup_key"] = dedup_key
        if locale is not UNSET:
            field_dict["locale"] = locale
        if priority is not UNSET:
            field_dict["priority"] = priority
        if send_at is not UNSET:
            field_dict["send_at"] = send_at
        if template is not UNSET:
            field_dict["template"] = template
        if workflow is not UNSET:
            field_dict["workflow"] = workflow

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.recipient_input import RecipientInput
        from ..models.send_request_content_type_0 import SendRequestContentType0
        from ..models.send_request_data_type_0 import SendRequestDataType0

        d = dict(src_dict)
        to = []
        _to = d.pop("to")
        for to_item_data in _to:
            to_item = RecipientInput.from_dict(to_item_data)

            to.append(to_item)

        def _parse_cancel_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cancel_key = _parse_cancel_key(d.pop("cancel_key", UNSET))

        def _parse_category(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        category = _parse_category(d.pop("category", UNSET))

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

        def _parse_content(data: object) -> None | SendRequestContentType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                content_type_0 = SendRequestContentType0.from_dict(data)

                return content_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendRequestContentType0 | Unset, data)

        content = _parse_content(d.pop("content", UNSET))

        def _parse_data(data: object) -> None | SendRequestDataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = SendRequestDataType0.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendRequestDataType0 | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_dedup_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dedup_key = _parse_dedup_key(d.pop("dedup_key", UNSET))

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        def _parse_priority(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))

        def _parse_send_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        send_at = _parse_send_at(d.pop("send_at", UNSET))

        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))

        def _parse_workflow(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        workflow = _parse_workflow(d.pop("workflow", UNSET))

        send_request = cls(
            to=to,
            cancel_key=cancel_key,
            category=category,
            channels=channels,
            content=content,
            data=data,
            dedup_key=dedup_key,
            locale=locale,
            priority=priority,
            send_at=send_at,
            template=template,
            workflow=workflow,
        )

        return send_request
