from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.put_partial_locales import PutPartialLocales


T = TypeVar("T", bound="PutPartial")


@_attrs_define
class PutPartial:
    """A partial: a handlebars source that templates include with
    `{{> key}}`, with per-locale overrides.

        Attributes:
            source (str):
            locales (PutPartialLocales | Unset): Overrides of `source`, by locale.
            name (None | str | Unset): A display name (default: the key).
    """

    source: str
    locales: PutPartialLocales | Unset = UNSET
    name: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        source = self.source

        locales: dict[str, Any] | Unset = UNSET
        if not isinstance(self.locales, Unset):
            locales = self.locales.to_dict()

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "source": source,
            }
        )
        if locales is not UNSET:
            field_dict["locales"] = locales
        if name is not UNSET:
            field_dict["name"] = name

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.put_partial_locales import PutPartialLocales

        d = dict(src_dict)
        source = d.pop("source")

        _locales = d.pop("locales", UNSET)
        locales: PutPartialLocales | Unset
        if isinstance(_locales, Unset):
            locales = UNSET
        else:
            locales = PutPartialLocales.from_dict(_locales)

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        put_partial = cls(
            source=source,
            locales=locales,
            name=name,
        )

        return put_partial
