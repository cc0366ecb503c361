from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CancelRuns")


@_attrs_define
class CancelRuns:
    """Which runs to cancel.

    Attributes:
        cancel_key (str): The `cancel_key` the runs were started with.
        recipients (list[str] | None | Unset): Only the runs of these recipients (ids, or the address a recipient
            without an id was given by); default: every run with the key.
    """

    cancel_key: str
    recipients: list[str] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cancel_key = self.cancel_key

        recipients: list[str] | None | Unset
        if isinstance(self.recipients, Unset):
            recipients = UNSET
        elif isinstance(self.recipients, list):
            recipients = self.recipients

        else:
            recipients = self.recipients

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cancel_key": cancel_key,
            }
        )
        if recipients is not UNSET:
            field_dict["recipients"] = recipients

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        cancel_key = d.pop("cancel_key")

        def _parse_recipients(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                recipients_type_0 = cast(list[str], data)

                return recipients_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        recipients = _parse_recipients(d.pop("recipients", UNSET))

        cancel_runs = cls(
            cancel_key=cancel_key,
            recipients=recipients,
        )

        return cancel_runs
