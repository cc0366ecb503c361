from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery_summary import DeliverySummary


T = TypeVar("T", bound="Accepted")


@_attrs_define
class Accepted:
    """The answer to an accepted send.

    Attributes:
        deliveries (list[DeliverySummary]):
        id (str):
        recipients (None | str | Unset): For a send to a topic: `pending` (the deliveries are made in the
            background; `GET /v1/notifications/{id}` shows how far). Absent
            otherwise.
        replayed (bool | Unset): `true` when this answers a repeated `Idempotency-Key`: nothing new
            was queued, and each delivery's `status` is its status now (see
            `GET /v1/notifications/{id}` for more). Absent otherwise.
        topic (None | str | Unset): For a send to a topic: the topic, and how many were subscribed when
            it was accepted.
        total (int | None | Unset):
    """

    deliveries: list[DeliverySummary]
    id: str
    recipients: None | str | Unset = UNSET
    replayed: bool | Unset = UNSET
    topic: None | str | Unset = UNSET
    total: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        deliveries = []
        for deliveries_item_data in self.deliveries:
            deliveries_item = deliveries_item_data.to_dict()
            deliveries.append(deliveries_item)

        id = self.id

        recipients: None | str | Unset
        if isinstance(self.recipients, Unset):
            recipients = UNSET
        else:
            recipients = self.recipients

        replayed = self.replayed

        topic: None | str | Unset
        if isinstance(self.topic, Unset):
            topic = UNSET
        else:
            topic = self.topic

        total: int | None | Unset
        if isinstance(self.total, Unset):
            total = UNSET
        else:
            total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "deliveries": deliveries,
                "id": id,
            }
        )
        if recipients is not UNSET:
            field_dict["recipients"] = recipients
        if replayed is not UNSET:
            field_dict["replayed"] = replayed
        if topic is not UNSET:
            field_dict["topic"] = topic
        if total is not UNSET:
            field_dict["total"] = total

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.delivery_summary import DeliverySummary

        d = dict(src_dict)
        deliveries = []
        _deliveries = d.pop("deliveries")
        for deliveries_item_data in _deliveries:
            deliveries_item = DeliverySummary.from_dict(deliveries_item_data)

            deliveries.append(deliveries_item)

        id = d.pop("id")

        def _parse_recipients(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        recipients = _parse_recipients(d.pop("recipients", UNSET))

        replayed = d.pop("replayed", UNSET)

        def _parse_topic(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        topic = _parse_topic(d.pop("topic", UNSET))

        def _parse_total(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        total = _parse_total(d.pop("total", UNSET))

        accepted = cls(
            deliveries=deliveries,
            id=id,
            recipients=recipients,
            replayed=replayed,
            topic=topic,
            total=total,
        )

        accepted.additional_properties = d
        return accepted

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
