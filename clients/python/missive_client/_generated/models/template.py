from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.template_channels import TemplateChannels
    from ..models.template_locales import TemplateLocales
    from ..models.template_settings import TemplateSettings


T = TypeVar("T", bound="Template")


@_attrs_define
class Template:
    """One version of a template with its content.

    Attributes:
        channels (TemplateChannels):
        created_at (str): RFC 3339.
        current_version (int): The version sends use.
        key (str):
        locales (TemplateLocales):
        name (str):
        settings (TemplateSettings): Per-template flow control: a dedup window instead of the configured
            one, deduplication by rendered content, and a frequency cap on this
            template per recipient and channel.
        updated_at (str): RFC 3339.
        version (int): The version shown.
        archived_at (None | str | Unset): RFC 3339; set once archived.
        layout (None | str | Unset): The stored layout this template's email is wrapped in.
    """

    channels: TemplateChannels
    created_at: str
    current_version: int
    key: str
    locales: TemplateLocales
    name: str
    settings: TemplateSettings
    updated_at: str
    version: int
    archived_at: None | str | Unset = UNSET
    layout: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        channels = self.channels.to_dict()

        created_at = self.created_at

        current_version = self.current_version

        key = self.key

        locales = self.locales.to_dict()

        name = self.name

        settings = self.settings.to_dict()

        updated_at = self.updated_at

        version = self.version

        archived_at: None | str | Unset
        if isinstance(self.archived_at, Unset):
            archived_at = UNSET
        else:
            archived_at = self.archived_at

        layout: None | str | Unset
        if isinstance(self.layout, Unset):
            layout = UNSET
        else:
            layout = self.layout

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "channels": channels,
                "created_at": created_at,
                "current_version": current_version,
                "key": key,
                "locales": locales,
                "name": name,
                "settings": settings,
                "updated_at": updated_at,
                "version": version,
            }
        )
        if archived_at is not UNSET:
            field_dict["archived_at"] = archived_at
        if layout is not UNSET:
            field_dict["layout"] = layout

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.template_channels import TemplateChannels
        from ..models.template_locales import TemplateLocales
        from ..models.template_settings import TemplateSettings

        d = dict(src_dict)
        channels = TemplateChannels.from_dict(d.pop("channels"))

        created_at = d.pop("created_at")

        current_version = d.pop("current_version")

        key = d.pop("key")

        locales = TemplateLocales.from_dict(d.pop("locales"))

        name = d.pop("name")

        settings = TemplateSettings.from_dict(d.pop("settings"))

        updated_at = d.pop("updated_at")

        version = d.pop("version")

        def _parse_archived_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        archived_at = _parse_archived_at(d.pop("archived_at", UNSET))

        def _parse_layout(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        layout = _parse_layout(d.pop("layout", UNSET))

        template = cls(
            channels=channels,
            created_at=created_at,
            current_version=current_version,
            key=key,
            locales=locales,
            name=name,
            settings=settings,
            updated_at=updated_at,
            version=version,
            archived_at=archived_at,
            layout=layout,
        )

        template.additional_properties = d
        return template

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
