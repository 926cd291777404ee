"""Every model, imported in one place so the metadata is complete (Alembic, create_all, checks)."""

from onestop.accounts.models import Department, Enterprise, StaffRole, User
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
from onestop.catalog.models import BundleVersion
from onestop.certificates.models import Certificate, CertificateSerial
from onestop.clocks.models import CalendarDay, CalendarYear
from onestop.instant.models import CreditImport, CreditRecord, InstantSwitch

__all__ = [
    "Answer", "Application", "AuditChainHead", "AuditEvent", "BundleVersion", "CalendarDay", "CalendarYear",
    "Certificate", "CertificateSerial", "CreditImport", "CreditRecord", "Department", "Enterprise", "InstantSwitch",
    "Material", "Notification", "StaffRole", "Step", "StepAlert", "StepExtension", "StepPause", "StepTransition",
    "SupplementRequest", "User",
]
