from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.layout_preview_request_data_type_0 import (
        LayoutPreviewRequestDataType0,
    )


T = TypeVar("T", bound="LayoutPreviewRequest")


@_attrs_define
class LayoutPreviewRequest:
    """What to preview a layout with.

    Attributes:
        data (LayoutPreviewRequestDataType0 | None | Unset): Data for the layout's expressions (a JSON object).
        html (None | str | Unset): The email `html` to wrap (default: a placeholder paragraph).
        locale (None | str | Unset):
        text (None | str | Unset): The email `text` to wrap (default: a placeholder line).
        version (int | None | Unset): Default: the current version.
    """

    data: LayoutPreviewRequestDataType0 | None | Unset = UNSET
    html: None | str | Unset = UNSET
    locale: None | str | Unset = UNSET
    text: None | str | Unset = UNSET
    version: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.layout_preview_request_data_type_0 import (
            LayoutPreviewRequestDataType0,
        )

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, LayoutPreviewRequestDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        html: None | str | Unset
        if isinstance(self.html, Unset):
            html = UNSET
        else:
            html = self.html

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        text: None | str | Unset
        if isinstance(self.text, Unset):
            text = UNSET
        else:
            text = self.text

        version: int | None | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if data is not UNSET:
            field_dict["data"] = data
        if html is not UNSET:
            field_dict["html"] = html
        if locale is not UNSET:
            field_dict["locale"] = locale
        if text is not UNSET:
            field_dict["text"] = text
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.layout_preview_request_data_type_0 import (
            LayoutPreviewRequestDataType0,
        )

        d = dict(src_dict)

        def _parse_data(data: object) -> LayoutPreviewRequestDataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = LayoutPreviewRequestDataType0.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LayoutPreviewRequestDataType0 | None | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_html(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        html = _parse_html(d.pop("html", UNSET))

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        def _parse_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text = _parse_text(d.pop("text", UNSET))

        def _parse_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        layout_preview_request = cls(
            data=data,
            html=html,
            locale=locale,
            text=text,
            version=version,
        )

        return layout_preview_request
