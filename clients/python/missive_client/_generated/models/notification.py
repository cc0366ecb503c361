from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery import Delivery
    from ..models.fanout import Fanout
    from ..models.notification_data import NotificationData
    from ..models.run import Run


T = TypeVar("T", bound="Notification")


@_attrs_define
class Notification:
    """A notification with its deliveries.

    Attributes:
        category (str):
        created_at (str): RFC 3339.
        data (NotificationData): The data the template was rendered with.
        deliveries (list[Delivery]): Its deliveries; for a send to a topic, 1,000 of them (the
            delivery log's `notification=` filter pages through them all).
        id (str):
        priority (str):
        cancel_key (None | str | Unset):
        dedup_key (None | str | Unset):
        fanout (Fanout | None | Unset):
        locale (None | str | Unset):
        parent_run (None | str | Unset): The workflow run whose step sent it.
        runs (list[Run] | Unset): For a workflow: each recipient's run (the first 100) with its
            steps.
        send_at (None | str | Unset): RFC 3339.
        template (None | str | Unset): The template's key; none for inline content.
        template_version (int | None | Unset):
        workflow (None | str | Unset): The workflow it triggered, and the version its runs follow.
        workflow_version (int | None | Unset):
    """

    category: str
    created_at: str
    data: NotificationData
    deliveries: list[Delivery]
    id: str
    priority: str
    cancel_key: None | str | Unset = UNSET
    dedup_key: None | str | Unset = UNSET
    fanout: Fanout | None | Unset = UNSET
    locale: None | str | Unset = UNSET
    parent_run: None | str | Unset = UNSET
    runs: list[Run] | Unset = UNSET
    send_at: None | str | Unset = UNSET
    template: None | str | Unset = UNSET
    template_version: int | None | Unset = UNSET
    workflow: None | str | Unset = UNSET
    workflow_version: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.fanout import Fanout

        category = self.category

        created_at = self.created_at

        data = self.data.to_dict()

        deliveries = []
        for deliveries_item_data in self.deliveries:
            deliveries_item = deliveries_item_data.to_dict()
            deliveries.append(deliveries_item)

        id = self.id

        priority = self.priority

        cancel_key: None | str | Unset
        if isinstance(self.cancel_key, Unset):
            cancel_key = UNSET
        else:
            cancel_key = self.cancel_key

        dedup_key: None | str | Unset
        if isinstance(self.dedup_key, Unset):
            dedup_key = UNSET
        else:
            dedup_key = self.dedup_key

        fanout: dict[str, Any] | None | Unset
        if isinstance(self.fanout, Unset):
            fanout = UNSET
        elif isinstance(self.fanout, Fanout):
            fanout = self.fanout.to_dict()
        else:
            fanout = self.fanout

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        parent_run: None | str | Unset
        if isinstance(self.parent_run, Unset):
            parent_run = UNSET
        else:
            parent_run = self.parent_run

        runs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.runs, Unset):
            runs = []
            for runs_item_data in self.runs:
                runs_item = runs_item_data.to_dict()
                runs.append(runs_item)

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

        template_version: int | None | Unset
        if isinstance(self.template_version, Unset):
            template_version = UNSET
        else:
            template_version = self.template_version

        workflow: None | str | Unset
        if isinstance(self.workflow, Unset):
            workflow = UNSET
        else:
            workflow = self.workflow

        workflow_version: int | None | Unset
        if isinstance(self.workflow_version, Unset):
            workflow_version = UNSET
        else:
            workflow_version = self.workflow_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "category": category,
                "created_at": created_at,
                "data": data,
                "deliveries": deliveries,
                "id": id,
                "priority": priority,
            }
        )
        if cancel_key is not UNSET:
            field_dict["cancel_key"] = cancel_key
        if dedup_key is not UNSET:
            field_dict["dedup_key"] = dedup_key
        if fanout is not UNSET:
            field_dict["fanout"] = fanout
        if locale is not UNSET:
            field_dict["locale"] = locale
        if parent_run is not UNSET:
            field_dict["parent_run"] = parent_run
        if runs is not UNSET:
            field_dict["runs"] = runs
        if send_at is not UNSET:
            field_dict["send_at"] = send_at
        if template is not UNSET:
            field_dict["template"] = template
        if template_version is not UNSET:
            field_dict["template_version"] = template_version
        if workflow is not UNSET:
            field_dict["workflow"] = workflow
        if workflow_version is not UNSET:
            field_dict["workflow_version"] = workflow_version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.delivery import Delivery
        from ..models.fanout import Fanout
        from ..models.notification_data import NotificationData
        from ..models.run import Run

        d = dict(src_dict)
        category = d.pop("category")

        created_at = d.pop("created_at")

        data = NotificationData.from_dict(d.pop("data"))

        deliveries = []
        _deliveries = d.pop("deliveries")
        for deliveries_item_data in _deliveries:
            deliveries_item = Delivery.from_dict(deliveries_item_data)

            deliveries.append(deliveries_item)

        id = d.pop("id")

        priority = d.pop("priority")

        def _parse_cancel_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cancel_key = _parse_cancel_key(d.pop("cancel_key", UNSET))

        def _parse_dedup_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dedup_key = _parse_dedup_key(d.pop("dedup_key", UNSET))

        def _parse_fanout(data: object) -> Fanout | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fanout_type_1 = Fanout.from_dict(data)

                return fanout_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Fanout | None | Unset, data)

        fanout = _parse_fanout(d.pop("fanout", UNSET))

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        def _parse_parent_run(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_run = _parse_parent_run(d.pop("parent_run", UNSET))

        _runs = d.pop("runs", UNSET)
        runs: list[Run] | Unset = UNSET
        if _runs is not UNSET:
            runs = []
            for runs_item_data in _runs:
                runs_item = Run.from_dict(runs_item_data)

                runs.append(runs_item)

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

        def _parse_template_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        template_version = _parse_template_version(d.pop("template_version", UNSET))

        def _parse_workflow(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        workflow = _parse_workflow(d.pop("workflow", UNSET))

        def _parse_workflow_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        workflow_version = _parse_workflow_version(d.pop("workflow_version", UNSET))

        notification = cls(
            category=category,
            created_at=created_at,
            data=data,
            deliveries=deliveries,
            id=id,
            priority=priority,
            cancel_key=cancel_key,
            dedup_key=dedup_key,
            fanout=fanout,
            locale=locale,
            parent_run=parent_run,
            runs=runs,
            send_at=send_at,
            template=template,
            template_version=template_version,
            workflow=workflow,
            workflow_version=workflow_version,
        )

        notification.additional_properties = d
        return notification

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
