from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.preview_request_data_type_0 import PreviewRequestDataType0
    from ..models.template_content import TemplateContent


T = TypeVar("T", bound="PreviewRequest")


@_attrs_define
class PreviewRequest:
    """What to render a preview with.

    Attributes:
        data (None | PreviewRequestDataType0 | Unset): The template's data (a JSON object).
        draft (None | TemplateContent | Unset):
        locale (None | str | Unset):
        timezone (None | str | Unset): An IANA timezone for date helpers.
        version (int | None | Unset): Default: the current version.
    """

    data: None | PreviewRequestDataType0 | Unset = UNSET
    draft: None | TemplateContent | Unset = UNSET
    locale: None | str | Unset = UNSET
    timezone: None | str | Unset = UNSET
    version: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.preview_request_data_type_0 import PreviewRequestDataType0
        from ..models.template_content import TemplateContent

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, PreviewRequestDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        draft: dict[str, Any] | None | Unset
        if isinstance(self.draft, Unset):
            draft = UNSET
        elif isinstance(self.draft, TemplateContent):
            draft = self.draft.to_dict()
        else:
            draft = self.draft

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        timezone: None | str | Unset
        if isinstance(self.timezone, Unset):
            timezone = UNSET
        else:
            timezone = self.timezone

        version: int | None | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if data is not UNSET:
            field_dict["data"] = data
        if draft is not UNSET:
            field_dict["draft"] = draft
        if locale is not UNSET:
            field_dict["locale"] = locale
        if timezone is not UNSET:
            field_dict["timezone"] = timezone
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.preview_request_data_type_0 import PreviewRequestDataType0
        from ..models.template_content import TemplateContent

        d = dict(src_dict)

        def _parse_data(data: object) -> None | PreviewRequestDataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = PreviewRequestDataType0.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PreviewRequestDataType0 | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_draft(data: object) -> None | TemplateContent | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                draft_type_1 = TemplateContent.from_dict(data)

                return draft_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TemplateContent | Unset, data)

        draft = _parse_draft(d.pop("draft", UNSET))

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        def _parse_timezone(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        timezone = _parse_timezone(d.pop("timezone", UNSET))

        def _parse_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        preview_request = cls(
            data=data,
            draft=draft,
            locale=locale,
            timezone=timezone,
            version=version,
        )

        return preview_request
