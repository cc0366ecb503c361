from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.template_content_channels import TemplateContentChannels
    from ..models.template_content_locales import TemplateContentLocales
    from ..models.template_settings import TemplateSettings


T = TypeVar("T", bound="TemplateContent")


@_attrs_define
class TemplateContent:
    """A template's sources: parts per channel, and per-locale overrides of any
    part.

        Attributes:
            channels (TemplateContentChannels | Unset): Handlebars sources of each part, by channel.
            layout (None | str | Unset): A stored layout (`PUT /v1/layouts/{key}`) that wraps this
                template's email `html` and `text` parts.
            locales (TemplateContentLocales | Unset): Overrides of any part, by locale then channel.
            settings (TemplateSettings | Unset): Per-template flow control: a dedup window instead of the configured
                one, deduplication by rendered content, and a frequency cap on this
                template per recipient and channel.
    """

    channels: TemplateContentChannels | Unset = UNSET
    layout: None | str | Unset = UNSET
    locales: TemplateContentLocales | Unset = UNSET
    settings: TemplateSettings | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        channels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.channels, Unset):
            channels = self.channels.to_dict()

        layout: None | str | Unset
        if isinstance(self.layout, Unset):
            layout = UNSET
        else:
            layout = self.layout

        locales: dict[str, Any] | Unset = UNSET
        if not isinstance(self.locales, Unset):
            locales = self.locales.to_dict()

        settings: dict[str, Any] | Unset = UNSET
        if not isinstance(self.settings, Unset):
            settings = self.settings.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if channels is not UNSET:
            field_dict["channels"] = channels
        if layout is not UNSET:
            field_dict["layout"] = layout
        if locales is not UNSET:
            field_dict["locales"] = locales
        if settings is not UNSET:
            field_dict["settings"] = settings

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.template_content_channels import TemplateContentChannels
        from ..models.template_content_locales import TemplateContentLocales
        from ..models.template_settings import TemplateSettings

        d = dict(src_dict)
        _channels = d.pop("channels", UNSET)
        channels: TemplateContentChannels | Unset
        if isinstance(_channels, Unset):
            channels = UNSET
        else:
            channels = TemplateContentChannels.from_dict(_channels)

        def _parse_layout(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        layout = _parse_layout(d.pop("layout", UNSET))

        _locales = d.pop("locales", UNSET)
        locales: TemplateContentLocales | Unset
        if isinstance(_locales, Unset):
            locales = UNSET
        else:
            locales = TemplateContentLocales.from_dict(_locales)

        _settings = d.pop("settings", UNSET)
        settings: TemplateSettings | Unset
        if isinstance(_settings, Unset):
            settings = UNSET
        else:
            settings = TemplateSettings.from_dict(_settings)

        template_content = cls(
            channels=channels,
            layout=layout,
            locales=locales,
            settings=settings,
        )

        return template_content
