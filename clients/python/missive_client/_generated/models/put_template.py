from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.put_template_channels import PutTemplateChannels
    from ..models.put_template_locales import PutTemplateLocales
    from ..models.template_settings import TemplateSettings


T = TypeVar("T", bound="PutTemplate")


@_attrs_define
class PutTemplate:
    """A template's content: parts per channel (e.g. `email`: `subject`,
    `html`, `text`), per-locale overrides and flow-control settings.

        Attributes:
            channels (PutTemplateChannels): Handlebars sources of each part, by channel.
            layout (None | str | Unset): A stored layout (`PUT /v1/layouts/{key}`) that wraps the email
                `html` and `text` parts.
            locales (PutTemplateLocales | Unset): Overrides of any part, by locale then channel.
            name (None | str | Unset): A display name (default: the key).
            settings (TemplateSettings | Unset): Per-template flow control: a dedup window instead of the configured
                one, deduplication by rendered content, and a frequency cap on this
                template per recipient and channel.
    """

    channels: PutTemplateChannels
    layout: None | str | Unset = UNSET
    locales: PutTemplateLocales | Unset = UNSET
    name: None | str | Unset = UNSET
    settings: TemplateSettings | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        channels = self.channels.to_dict()

        layout: None | str | Unset
        if isinstance(self.layout, Unset):
            layout = UNSET
        else:
            layout = self.layout

        locales: dict[str, Any] | Unset = UNSET
        if not isinstance(self.locales, Unset):
            locales = self.locales.to_dict()

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        settings: dict[str, Any] | Unset = UNSET
        if not isinstance(self.settings, Unset):
            settings = self.settings.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "channels": channels,
            }
        )
        if layout is not UNSET:
            field_dict["layout"] = layout
        if locales is not UNSET:
            field_dict["locales"] = locales
        if name is not UNSET:
            field_dict["name"] = name
        if settings is not UNSET:
            field_dict["settings"] = settings

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.put_template_channels import PutTemplateChannels
        from ..models.put_template_locales import PutTemplateLocales
        from ..models.template_settings import TemplateSettings

        d = dict(src_dict)
        channels = PutTemplateChannels.from_dict(d.pop("channels"))

        def _parse_layout(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        layout = _parse_layout(d.pop("layout", UNSET))

        _locales = d.pop("locales", UNSET)
        locales: PutTemplateLocales | Unset
        if isinstance(_locales, Unset):
            locales = UNSET
        else:
            locales = PutTemplateLocales.from_dict(_locales)

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        _settings = d.pop("settings", UNSET)
        settings: TemplateSettings | Unset
        if isinstance(_settings, Unset):
            settings = UNSET
        else:
            settings = TemplateSettings.from_dict(_settings)

        put_template = cls(
            channels=channels,
            layout=layout,
            locales=locales,
            name=name,
            settings=settings,
        )

        return put_template
