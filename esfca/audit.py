"""The audit trail: one row per business action, written in the action's transaction."""

from .models import AuditEvent


def audit_event(actor, firm, action: str, obj, **details) -> AuditEvent:
    """An unsaved audit row (``audit`` writes one; the bulk paths write many at once)."""
    return AuditEvent(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        firm=firm,
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.pk),
        details=details,
    )


def audit(actor, firm, action: str, obj, **details) -> AuditEvent:
    event = audit_event(actor, firm, action, obj, **details)
    event.save(force_insert=True)
    return event
