from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.group_stats_counts import GroupStatsCounts
    from ..models.group_stats_suppression_reasons import GroupStatsSuppressionReasons
    from ..models.latency import Latency


T = TypeVar("T", bound="GroupStats")


@_attrs_define
class GroupStats:
    """One template's, channel's or provider's numbers over the window.

    Attributes:
        counts (GroupStatsCounts): Outcomes by status, including `retrying` (attempts that failed and
            will be tried again, which `total` leaves out).
        failed_series (list[int]): Failed deliveries per point.
        failure_rate (float): `failed / (sent + failed)`; 0 when neither.
        key (str): The template key (`inline` for inline content), channel, or
            provider (`none` for deliveries suppressed before any attempt).
        latency (Latency): Accepted-to-sent times of `sent` deliveries: the upper bound of the
            log2 bucket the percentile falls in.
        series (list[int]): Finished deliveries per point (`bucket_seconds` each), oldest first.
        suppression_reasons (GroupStatsSuppressionReasons): Suppressed deliveries by reason.
        total (int): Deliveries that finished in the window (sent, failed, suppressed).
    """

    counts: GroupStatsCounts
    failed_series: list[int]
    failure_rate: float
    key: str
    latency: Latency
    series: list[int]
    suppression_reasons: GroupStatsSuppressionReasons
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts.to_dict()

        failed_series = self.failed_series

        failure_rate = self.failure_rate

        key = self.key

        latency = self.latency.to_dict()

        series = self.series

        suppression_reasons = self.suppression_reasons.to_dict()

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "counts": counts,
                "failed_series": failed_series,
                "failure_rate": failure_rate,
                "key": key,
                "latency": latency,
                "series": series,
                "suppression_reasons": suppression_reasons,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.group_stats_counts import GroupStatsCounts
        from ..models.group_stats_suppression_reasons import (
            GroupStatsSuppressionReasons,
        )
        from ..models.latency import Latency

        d = dict(src_dict)
        counts = GroupStatsCounts.from_dict(d.pop("counts"))

        failed_series = cast(list[int], d.pop("failed_series"))

        failure_rate = d.pop("failure_rate")

        key = d.pop("key")

        latency = Latency.from_dict(d.pop("latency"))

        series = cast(list[int], d.pop("series"))

        suppression_reasons = GroupStatsSuppressionReasons.from_dict(
            d.pop("suppression_reasons")
        )

        total = d.pop("total")

        group_stats = cls(
            counts=counts,
            failed_series=failed_series,
            failure_rate=failure_rate,
            key=key,
            latency=latency,
            series=series,
            suppression_reasons=suppression_reasons,
            total=total,
        )

        group_stats.additional_properties = d
        return group_stats

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
