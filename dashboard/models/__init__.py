"""The data model: the seed's tables, kept name for name, plus the dashboard's additions."""

from dashboard.models.account import (
    AccountSecurity,
    AccountSettings,
    Impersonation,
    RecoveryCode,
    SecurityEvent,
    StoredSession,
    UserSession,
)
from dashboard.models.alert import (
    AlertEvent,
    AlertKeyWatch,
    AlertSettings,
    KeySeenIp,
    WebhookDelivery,
    WebhookEndpoint,
)
from dashboard.models.audit import AuditEvent
from dashboard.models.key import ApiKey, IdempotentRequest, RootKey
from dashboard.models.organisation import Invitation, Membership, Organisation
from dashboard.models.outcomes import ErrorGroupDay, RejectedCalls
from dashboard.models.portal import PortalOverrides
from dashboard.models.tool import Tool
from dashboard.models.types import utcnow
from dashboard.models.usage import ToolLog, UsageDaily, UsageSummary
from dashboard.models.user import SuperAdmin, User

__all__ = [
    "AccountSecurity",
    "AccountSettings",
    "AlertEvent",
    "AlertKeyWatch",
    "AlertSettings",
    "ApiKey",
    "AuditEvent",
    "ErrorGroupDay",
    "IdempotentRequest",
    "Impersonation",
    "Invitation",
    "KeySeenIp",
    "Membership",
    "Organisation",
    "PortalOverrides",
    "RecoveryCode",
    "RejectedCalls",
    "RootKey",
    "SecurityEvent",
    "StoredSession",
    "SuperAdmin",
    "Tool",
    "ToolLog",
    "UsageDaily",
    "UsageSummary",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
