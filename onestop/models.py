"""Every model, imported in one place so the metadata is complete (Alembic, create_all, checks)."""

from onestop.accounts.models import Department, Enterprise, StaffRole, User
from onestop.api.models import ApiToken, IdempotencyKey
from onestop.applications.models import (
    Answer,
    Application,
    Material,
    Notification,
    Step,
    StepAlert,
    StepExtension,
    StepPause,
    StepTransition,
    SupplementRequest,
)
from onestop.audit.models import AuditChainHead, AuditEvent
from onestop.benefits.models import BenefitOffer, EnterpriseDataImport, EnterpriseRecord, NoticeObjection
from onestop.catalog.models import BundleVersion
from onestop.certificates.models import Certificate, CertificateSerial
from onestop.clocks.models import CalendarDay, CalendarYear
from onestop.deliveries.models import Delivery
from onestop.drafts.models import Draft
from onestop.instant.models import CreditImport, CreditRecord, InstantSwitch
from onestop.messaging.models import OutboundMessage
from onestop.profiles.models import ProfileEntry
from onestop.ratings.models import Rating
from onestop.reviews.models import QualitySample, QualitySampleEntry
from onestop.supervision.models import ApplicationTiming, ExportJob, StepTiming, TimingHistogram
from onestop.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from onestop.window.models import ActivationCode, Handover, ResultCollection, WindowIntake

__all__ = [
    "ActivationCode", "Answer", "ApiToken", "Application", "AuditChainHead", "AuditEvent", "BenefitOffer", "BundleVersion",
    "CalendarDay", "CalendarYear", "ApplicationTiming", "ExportJob", "StepTiming", "TimingHistogram",
    "Certificate", "CertificateSerial", "CreditImport", "CreditRecord", "Delivery", "Department", "Draft",
    "Enterprise", "EnterpriseDataImport", "EnterpriseRecord", "IdempotencyKey", "InstantSwitch", "Material", "NoticeObjection",
    "Notification", "OutboundMessage", "ProfileEntry",
    "QualitySample", "QualitySampleEntry", "Rating", "StaffRole", "Step", "StepAlert", "StepExtension",
    "StepPause", "StepTransition", "SupplementRequest", "User", "Handover", "ResultCollection", "WindowIntake",
    "WebhookDelivery", "WebhookEvent", "WebhookSubscription",
]
