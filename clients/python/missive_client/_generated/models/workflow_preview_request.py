from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.recipient_input import RecipientInput
    from ..models.workflow_preview_request_data_type_0 import (
        WorkflowPreviewRequestDataType0,
    )
    from ..models.workflow_preview_request_draft_type_0 import (
        WorkflowPreviewRequestDraftType0,
    )


T = TypeVar("T", bound="WorkflowPreviewRequest")


@_attrs_define
class WorkflowPreviewRequest:
    """What to run a dry run with.

    Attributes:
        data (None | Unset | WorkflowPreviewRequestDataType0): The trigger's data (a JSON object).
        draft (None | Unset | WorkflowPreviewRequestDraftType0): An unsaved definition (`steps`, `description`) to try
            instead of a
            stored version; the workflow need not exist yet.
        recipient (None | RecipientInput | Unset):
        version (int | None | Unset): Default: the current version.
    """

    data: None | Unset | WorkflowPreviewRequestDataType0 = UNSET
    draft: None | Unset | WorkflowPreviewRequestDraftType0 = UNSET
    recipient: None | RecipientInput | Unset = UNSET
    version: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.recipient_input import RecipientInput
        from ..models.workflow_preview_request_data_type_0 import (
            WorkflowPreviewRequestDataType0,
        )
        from ..models.workflow_preview_request_draft_type_0 import (
            WorkflowPreviewRequestDraftType0,
        )

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, WorkflowPreviewRequestDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        draft: dict[str, Any] | None | Unset
        if isinstance(self.draft, Unset):
            draft = UNSET
        elif isinstance(self.draft, WorkflowPreviewRequestDraftType0):
            draft = self.draft.to_dict()
        else:
            draft = self.draft

        recipient: dict[str, Any] | None | Unset
        if isinstance(self.recipient, Unset):
            recipient = UNSET
        elif isinstance(self.recipient, RecipientInput):
            recipient = self.recipient.to_dict()
        else:
            recipient = self.recipient

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
        if recipient is not UNSET:
            field_dict["recipient"] = recipient
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.recipient_input import RecipientInput
        from ..models.workflow_preview_request_data_type_0 import (
            WorkflowPreviewRequestDataType0,
        )
        from ..models.workflow_preview_request_draft_type_0 import (
            WorkflowPreviewRequestDraftType0,
        )

        d = dict(src_dict)

        def _parse_data(data: object) -> None | Unset | WorkflowPreviewRequestDataType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = WorkflowPreviewRequestDataType0.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WorkflowPreviewRequestDataType0, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_draft(
            data: object,
        ) -> None | Unset | WorkflowPreviewRequestDraftType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                draft_type_0 = WorkflowPreviewRequestDraftType0.from_dict(data)

                return draft_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WorkflowPreviewRequestDraftType0, data)

        draft = _parse_draft(d.pop("draft", UNSET))

        def _parse_recipient(data: object) -> None | RecipientInput | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                recipient_type_1 = RecipientInput.from_dict(data)

                return recipient_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RecipientInput | Unset, data)

        recipient = _parse_recipient(d.pop("recipient", UNSET))

        def _parse_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        workflow_preview_request = cls(
            data=data,
            draft=draft,
            recipient=recipient,
            version=version,
        )

        return workflow_preview_request
