from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery import Delivery


T = TypeVar("T", bound="RunStep")


@_attrs_define
class RunStep:
    """One step of a run.

    Attributes:
        deliveries (list[Delivery]): Its deliveries.
        id (str):
        state (str): `pending` (not reached yet), `waiting` (a delay, or a delivery's
            outcome), `done`, `skipped` (its condition, in `detail`), `failed`
            (why, in `detail`), `cancelled`, or `not run` (the run ended
            first).
        summary (str): What the step does, in a few words.
        type_ (str): `send`, `delay` or `digest`.
        detail (None | str | Unset):
        due_at (None | str | Unset): RFC 3339: when the run looks at this step next.
        notification_id (None | str | Unset): The notification a send step made.
    """

    deliveries: list[Delivery]
    id: str
    state: str
    summary: str
    type_: str
    detail: None | str | Unset = UNSET
    due_at: None | str | Unset = UNSET
    notification_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        deliveries = []
        for deliveries_item_data in self.deliveries:
            deliveries_item = deliveries_item_data.to_dict()
            deliveries.append(deliveries_item)

        id = self.id

        state = self.state

        summary = self.summary

        type_ = self.type_

        detail: None | str | Unset
        if isinstance(self.detail, Unset):
            detail = UNSET
        else:
            detail = self.detail

        due_at: None | str | Unset
        if isinstance(self.due_at, Unset):
            due_at = UNSET
        else:
            due_at = self.due_at

        notification_id: None | str | Unset
        if isinstance(self.notification_id, Unset):
            notification_id = UNSET
        else:
            notification_id = self.notification_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "deliveries": deliveries,
                "id": id,
                "state": state,
                "summary": summary,
                "type": type_,
            }
        )
        if detail is not UNSET:
            field_dict["detail"] = detail
        if due_at is not UNSET:
            field_dict["due_at"] = due_at
        if notification_id is not UNSET:
            field_dict["notification_id"] = notification_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.delivery import Delivery

        d = dict(src_dict)
        deliveries = []
        _deliveries = d.pop("deliveries")
        for deliveries_item_data in _deliveries:
            deliveries_item = Delivery.from_dict(deliveries_item_data)

            deliveries.append(deliveries_item)

        id = d.pop("id")

        state = d.pop("state")

        summary = d.pop("summary")

        type_ = d.pop("type")

        def _parse_detail(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        detail = _parse_detail(d.pop("detail", UNSET))

        def _parse_due_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        due_at = _parse_due_at(d.pop("due_at", UNSET))

        def _parse_notification_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        notification_id = _parse_notification_id(d.pop("notification_id", UNSET))

        run_step = cls(
            deliveries=deliveries,
            id=id,
            state=state,
            summary=summary,
            type_=type_,
            detail=detail,
            due_at=due_at,
            notification_id=notification_id,
        )

        run_step.additional_properties = d
        return run_step

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
