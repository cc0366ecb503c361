from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TemplateSettings")


@_attrs_define
class TemplateSettings:
    """Per-template flow control: a dedup window instead of the configured
    one, deduplication by rendered content, and a frequency cap on this
    template per recipient and channel.

        Attributes:
            content_dedup (bool | Unset): Suppress a repeat of the same rendered content to the same
                recipient and channel within the dedup window.
            dedup_window (None | str | Unset): A duration such as `10m`: how long a `dedup_key` suppresses
                repeats of this template (default: `flow.dedup_window`).
            frequency_cap (None | str | Unset): At most this many of this template per recipient and channel, e.g.
                `5/1d`.
    """

    content_dedup: bool | Unset = UNSET
    dedup_window: None | str | Unset = UNSET
    frequency_cap: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        content_dedup = self.content_dedup

        dedup_window: None | str | Unset
        if isinstance(self.dedup_window, Unset):
            dedup_window = UNSET
        else:
            dedup_window = self.dedup_window

        frequency_cap: None | str | Unset
        if isinstance(self.frequency_cap, Unset):
            frequency_cap = UNSET
        else:
            frequency_cap = self.frequency_cap

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if content_dedup is not UNSET:
            field_dict["content_dedup"] = content_dedup
        if dedup_window is not UNSET:
            field_dict["dedup_window"] = dedup_window
        if frequency_cap is not UNSET:
            field_dict["frequency_cap"] = frequency_cap

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        content_dedup = d.pop("content_dedup", UNSET)

        def _parse_dedup_window(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dedup_window = _parse_dedup_window(d.pop("dedup_window", UNSET))

        def _parse_frequency_cap(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        frequency_cap = _parse_frequency_cap(d.pop("frequency_cap", UNSET))

        template_settings = cls(
            content_dedup=content_dedup,
            dedup_window=dedup_window,
            frequency_cap=frequency_cap,
        )

        return template_settings
