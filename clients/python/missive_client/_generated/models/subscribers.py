from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="Subscribers")


@_attrs_define
class Subscribers:
    """Recipient ids to subscribe or unsubscribe.

    Attributes:
        recipients (list[str]): 1 to 10,000 stored recipients' ids.
    """

    recipients: list[str]

    def to_dict(self) -> dict[str, Any]:
        recipients = self.recipients

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "recipients": recipients,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        recipients = cast(list[str], d.pop("recipients"))

        subscribers = cls(
            recipients=recipients,
        )

        return subscribers
