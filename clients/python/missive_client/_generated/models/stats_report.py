from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.group_stats import GroupStats


T = TypeVar("T", bound="StatsReport")


@_attrs_define
class StatsReport:
    """Delivery statistics over a window.

    Attributes:
        bucket_seconds (int): The width of one point of each series: 60 (up to 2 hours), 3600
            (up to 8 days) or 86400.
        group_by (str): `template`, `channel` or `provider`.
        groups (list[GroupStats]): The largest first; at most 500.
        since (str): RFC 3339: the start of the first minute counted.
        until (str): RFC 3339: now.
    """

    bucket_seconds: int
    group_by: str
    groups: list[GroupStats]
    since: str
    until: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bucket_seconds = self.bucket_seconds

        group_by = self.group_by

        groups = []
        for groups_item_data in self.groups:
            groups_item = groups_item_data.to_dict()
            groups.append(groups_item)

        since = self.since

        until = self.until

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bucket_seconds": bucket_seconds,
                "group_by": group_by,
                "groups": groups,
                "since": since,
                "until": until,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.group_stats import GroupStats

        d = dict(src_dict)
        bucket_seconds = d.pop("bucket_seconds")

        group_by = d.pop("group_by")

        groups = []
        _groups = d.pop("groups")
        for groups_item_data in _groups:
            groups_item = GroupStats.from_dict(groups_item_data)

            groups.append(groups_item)

        since = d.pop("since")

        until = d.pop("until")

        stats_report = cls(
            bucket_seconds=bucket_seconds,
            group_by=group_by,
            groups=groups,
            since=since,
            until=until,
        )

        stats_report.additional_properties = d
        return stats_report

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
