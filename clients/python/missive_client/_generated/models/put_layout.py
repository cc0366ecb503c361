from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.put_layout_locales import PutLayoutLocales


T = TypeVar("T", bound="PutLayout")


@_attrs_define
class PutLayout:
    """A layout: `html` and `text` wrappers of a template's email, each with
    `{{{content}}}` once where the template's part goes, and per-locale
    overrides.

        Attributes:
            html (None | str | Unset):
            locales (PutLayoutLocales | Unset): Overrides of `html` or `text`, by locale.
            name (None | str | Unset): A display name (default: the key).
            text (None | str | Unset):
    """

    html: None | str | Unset = UNSET
    locales: PutLayoutLocales | Unset = UNSET
    name: None | str | Unset = UNSET
    text: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        html: None | str | Unset
        if isinstance(self.html, Unset):
            html = UNSET
        else:
            html = self.html

        locales: dict[str, Any] | Unset = UNSET
        if not isinstance(self.locales, Unset):
            locales = self.locales.to_dict()

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        text: None | str | Unset
        if isinstance(self.text, Unset):
            text = UNSET
        else:
            text = self.text

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if html is not UNSET:
            field_dict["html"] = html
        if locales is not UNSET:
            field_dict["locales"] = locales
        if name is not UNSET:
            field_dict["name"] = name
        if text is not UNSET:
            field_dict["text"] = text

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.put_layout_locales import PutLayoutLocales

        d = dict(src_dict)

        def _parse_html(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        html = _parse_html(d.pop("html", UNSET))

        _locales = d.pop("locales", UNSET)
        locales: PutLayoutLocales | Unset
        if isinstance(_locales, Unset):
            locales = UNSET
        else:
            locales = PutLayoutLocales.from_dict(_locales)

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text = _parse_text(d.pop("text", UNSET))

        put_layout = cls(
            html=html,
            locales=locales,
            name=name,
            text=text,
        )

        return put_layout
