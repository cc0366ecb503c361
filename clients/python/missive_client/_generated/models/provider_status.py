from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ProviderStatus")


@_attrs_define
class ProviderStatus:
    """A provider's name and breaker state, for operators.

    Attributes:
        channel (str):
        consecutive_failures (int):
        provider (str):
        state (str): The circuit breaker: `closed`, `open` or `half_open`.
    """

    channel: str
    consecutive_failures: int
    provider: str
    state: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        channel = self.channel

        consecutive_failures = self.consecutive_failures

        provider = self.provider

        state = self.state

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "channel": channel,
                "consecutive_failures": consecutive_failures,
                "provider": provider,
                "state": state,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        channel = d.pop("channel")

        consecutive_failures = d.pop("consecutive_failures")

        provider = d.pop("provider")

        state = d.pop("state")

        provider_status = cls(
            channel=channel,
            consecutive_failures=consecutive_failures,
            provider=provider,
            state=state,
        )

        provider_status.additional_properties = d
        return provider_status

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
