"""Contains all the data models used in inputs/outputs"""

from .accepted import Accepted
from .attempt import Attempt
from .attempt_page import AttemptPage
from .cancel_runs import CancelRuns
from .cancelled import Cancelled
from .cancelled_runs import CancelledRuns
from .changed import Changed
from .delivery import Delivery
from .delivery_detail import DeliveryDetail
from .delivery_detail_content import DeliveryDetailContent
from .delivery_detail_recipient_data import DeliveryDetailRecipientData
from .delivery_fields import DeliveryFields
from .delivery_page import DeliveryPage
from .delivery_summary import DeliverySummary
from .device import Device
from .device_list import DeviceList
from .endpoint import Endpoint
from .endpoint_change import EndpointChange
from .endpoint_list import EndpointList
from .endpoint_with_secret import EndpointWithSecret
from .fanout import Fanout
from .field_error import FieldError
from .group_stats import GroupStats
from .group_stats_counts import GroupStatsCounts
from .group_stats_suppression_reasons import GroupStatsSuppressionReasons
from .health import Health
from .inbox_page import InboxPage
from .inbox_token import InboxToken
from .latency import Latency
from .layout_parts import LayoutParts
from .layout_preview import LayoutPreview
from .layout_preview_email import LayoutPreviewEmail
from .layout_preview_request import LayoutPreviewRequest
from .layout_preview_request_data_type_0 import LayoutPreviewRequestDataType0
from .marked_read import MarkedRead
from .message import Message
from .message_page import MessagePage
from .new_endpoint import NewEndpoint
from .notification import Notification
from .notification_data import NotificationData
from .openapi_response_200 import OpenapiResponse200
from .postmark_receipt_body import PostmarkReceiptBody
from .preference_link import PreferenceLink
from .preference_link_request import PreferenceLinkRequest
from .preferences import Preferences
from .preferences_categories import PreferencesCategories
from .preferences_channels import PreferencesChannels
from .preview import Preview
from .preview_channels import PreviewChannels
from .preview_channels_additional_property import PreviewChannelsAdditionalProperty
from .preview_request import PreviewRequest
from .preview_request_data_type_0 import PreviewRequestDataType0
from .problem import Problem
from .provider_list import ProviderList
from .provider_status import ProviderStatus
from .push_keys import PushKeys
from .put_device_body import PutDeviceBody
from .put_layout import PutLayout
from .put_layout_locales import PutLayoutLocales
from .put_partial import PutPartial
from .put_partial_locales import PutPartialLocales
from .put_recipient import PutRecipient
from .put_schedule import PutSchedule
from .put_schedule_data_type_0 import PutScheduleDataType0
from .put_suppression import PutSuppression
from .put_template import PutTemplate
from .put_template_channels import PutTemplateChannels
from .put_template_channels_additional_property import (
    PutTemplateChannelsAdditionalProperty,
)
from .put_template_locales import PutTemplateLocales
from .put_template_locales_additional_property import (
    PutTemplateLocalesAdditionalProperty,
)
from .put_template_locales_additional_property_additional_property import (
    PutTemplateLocalesAdditionalPropertyAdditionalProperty,
)
from .put_topic import PutTopic
from .put_workflow import PutWorkflow
from .quiet_hours import QuietHours
from .receipt import Receipt
from .receipt_answer import ReceiptAnswer
from .recipient import Recipient
from .recipient_input import RecipientInput
from .replay import Replay
from .replayed import Replayed
from .requeued import Requeued
from .rotation import Rotation
from .run import Run
from .run_step import RunStep
from .saved_shared import SavedShared
from .saved_template import SavedTemplate
from .saved_workflow import SavedWorkflow
from .schedule import Schedule
from .schedule_data import ScheduleData
from .schedule_list import ScheduleList
from .schedule_target import ScheduleTarget
from .schedule_to_item import ScheduleToItem
from .send_request import SendRequest
from .send_request_content_type_0 import SendRequestContentType0
from .send_request_content_type_0_additional_property import (
    SendRequestContentType0AdditionalProperty,
)
from .send_request_data_type_0 import SendRequestDataType0
from .sendgrid_receipt_body_item import SendgridReceiptBodyItem
from .shared_list import SharedList
from .shared_view import SharedView
from .shared_view_content import SharedViewContent
from .stats_report import StatsReport
from .step_dry_run import StepDryRun
from .subscriber import Subscriber
from .subscriber_page import SubscriberPage
from .subscribers import Subscribers
from .suppression import Suppression
from .suppression_page import SuppressionPage
from .template import Template
from .template_channels import TemplateChannels
from .template_channels_additional_property import TemplateChannelsAdditionalProperty
from .template_content import TemplateContent
from .template_content_channels import TemplateContentChannels
from .template_content_channels_additional_property import (
    TemplateContentChannelsAdditionalProperty,
)
from .template_content_locales import TemplateContentLocales
from .template_content_locales_additional_property import (
    TemplateContentLocalesAdditionalProperty,
)
from .template_content_locales_additional_property_additional_property import (
    TemplateContentLocalesAdditionalPropertyAdditionalProperty,
)
from .template_list import TemplateList
from .template_locales import TemplateLocales
from .template_locales_additional_property import TemplateLocalesAdditionalProperty
from .template_locales_additional_property_additional_property import (
    TemplateLocalesAdditionalPropertyAdditionalProperty,
)
from .template_settings import TemplateSettings
from .topic import Topic
from .topic_page import TopicPage
from .vapid_public_key import VapidPublicKey
from .version_item import VersionItem
from .version_list import VersionList
from .versioned_item import VersionedItem
from .workflow import Workflow
from .workflow_list import WorkflowList
from .workflow_preview import WorkflowPreview
from .workflow_preview_request import WorkflowPreviewRequest
from .workflow_preview_request_data_type_0 import WorkflowPreviewRequestDataType0
from .workflow_preview_request_draft_type_0 import WorkflowPreviewRequestDraftType0
from .workflow_step import WorkflowStep
from .workflow_step_content_type_0 import WorkflowStepContentType0
from .workflow_step_if_type_0_item import WorkflowStepIfType0Item

__all__ = (
    "Accepted",
    "Attempt",
    "AttemptPage",
    "CancelRuns",
    "Cancelled",
    "CancelledRuns",
    "Changed",
    "Delivery",
    "DeliveryDetail",
    "DeliveryDetailContent",
    "DeliveryDetailRecipientData",
    "DeliveryFields",
    "DeliveryPage",
    "DeliverySummary",
    "Device",
    "DeviceList",
    "Endpoint",
    "EndpointChange",
    "EndpointList",
    "EndpointWithSecret",
    "Fanout",
    "FieldError",
    "GroupStats",
    "GroupStatsCounts",
    "GroupStatsSuppressionReasons",
    "Health",
    "InboxPage",
    "InboxToken",
    "Latency",
    "LayoutParts",
    "LayoutPreview",
    "LayoutPreviewEmail",
    "LayoutPreviewRequest",
    "LayoutPreviewRequestDataType0",
    "MarkedRead",
    "Message",
    "MessagePage",
    "NewEndpoint",
    "Notification",
    "NotificationData",
    "OpenapiResponse200",
    "PostmarkReceiptBody",
    "PreferenceLink",
    "PreferenceLinkRequest",
    "Preferences",
    "PreferencesCategories",
    "PreferencesChannels",
    "Preview",
    "PreviewChannels",
    "PreviewChannelsAdditionalProperty",
    "PreviewRequest",
    "PreviewRequestDataType0",
    "Problem",
    "ProviderList",
    "ProviderStatus",
    "PushKeys",
    "PutDeviceBody",
    "PutLayout",
    "PutLayoutLocales",
    "PutPartial",
    "PutPartialLocales",
    "PutRecipient",
    "PutSchedule",
    "PutScheduleDataType0",
    "PutSuppression",
    "PutTemplate",
    "PutTemplateChannels",
    "PutTemplateChannelsAdditionalProperty",
    "PutTemplateLocales",
    "PutTemplateLocalesAdditionalProperty",
    "PutTemplateLocalesAdditionalPropertyAdditionalProperty",
    "PutTopic",
    "PutWorkflow",
    "QuietHours",
    "Receipt",
    "ReceiptAnswer",
    "Recipient",
    "RecipientInput",
    "Replay",
    "Replayed",
    "Requeued",
    "Rotation",
    "Run",
    "RunStep",
    "SavedShared",
    "SavedTemplate",
    "SavedWorkflow",
    "Schedule",
    "ScheduleData",
    "ScheduleList",
    "ScheduleTarget",
    "ScheduleToItem",
    "SendRequest",
    "SendRequestContentType0",
    "SendRequestContentType0AdditionalProperty",
    "SendRequestDataType0",
    "SendgridReceiptBodyItem",
    "SharedList",
    "SharedView",
    "SharedViewContent",
    "StatsReport",
    "StepDryRun",
    "Subscriber",
    "SubscriberPage",
    "Subscribers",
    "Suppression",
    "SuppressionPage",
    "Template",
    "TemplateChannels",
    "TemplateChannelsAdditionalProperty",
    "TemplateContent",
    "TemplateContentChannels",
    "TemplateContentChannelsAdditionalProperty",
    "TemplateContentLocales",
    "TemplateContentLocalesAdditionalProperty",
    "TemplateContentLocalesAdditionalPropertyAdditionalProperty",
    "TemplateList",
    "TemplateLocales",
    "TemplateLocalesAdditionalProperty",
    "TemplateLocalesAdditionalPropertyAdditionalProperty",
    "TemplateSettings",
    "Topic",
    "TopicPage",
    "VapidPublicKey",
    "VersionItem",
    "VersionList",
    "VersionedItem",
    "Workflow",
    "WorkflowList",
    "WorkflowPreview",
    "WorkflowPreviewRequest",
    "WorkflowPreviewRequestDataType0",
    "WorkflowPreviewRequestDraftType0",
    "WorkflowStep",
    "WorkflowStepContentType0",
    "WorkflowStepIfType0Item",
)
