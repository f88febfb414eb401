"""Security events in the audit log: sign-ins and failed sign-ins, lockouts, tokens issued,
users and their roles, firms and banks, whoever changes them (a service, the admin, a
command). Connected in ``EsfcaConfig.ready``.

The actor of a change made outside the services (a model saved by the admin) is the user of
the request being served (``AuditActorMiddleware``), or nobody (a command, a task). No row
ever holds a password, a token or a second factor's secret: only that it happened.
"""

from contextvars import ContextVar

from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save

from exporters.models import Bank, Firm, Membership, User

from .audit import audit, audit_append
from .models import AuditEvent, MonthlySummary

_request: ContextVar = ContextVar("esfca_audit_request", default=None)

# What is audited of each model when it changes (never a password hash: only that it did).
USER_FIELDS = ("username", "is_active", "is_staff", "is_superuser")
FIRM_FIELDS = (
    "name", "ntn", "kind", "registration_body", "registration_number",
    "registration_expires", "active_taxpayer",
)  # fmt: skip
BANK_FIELDS = ("code", "name")
MEMBERSHIP_FIELDS = ("user_id", "role", "firm_id", "bank_id")
WATCHED = {
    User: (*USER_FIELDS, "password"),
    Firm: FIRM_FIELDS,
    Bank: BANK_FIELDS,
    Membership: MEMBERSHIP_FIELDS,
}


class AuditActorMiddleware:
    """Keeps the request being served where the audit receivers find its user: the user
    is read when a row is written, so an API call's token user counts (DRF authenticates
    inside the view, after every middleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def current_actor():
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else None


def request_facts(request) -> dict:
    """Where a request came from: the door (web, api, admin) and the client's address."""
    if request is None:
        return {"via": "command"}
    path = getattr(request, "path", "") or ""
    via = "api" if path.startswith("/api/") else "admin" if path.startswith("/admin/") else "web"
    return {"via": via, "address": request.META.get("REMOTE_ADDR", "")}


# --- sign-ins --------------------------------------------------------------------------------


def login_audit(request, user, **details) -> None:
    """A successful sign-in (a web session, or a token issued by the API)."""
    audit(user, None, "login", user, **request_facts(request), **details)


def _failed(username, request, action: str) -> None:
    username = username if isinstance(username, str) else ""
    user = User.objects.filter(username=username).only("pk").first() if username else None
    audit_append(
        [
            AuditEvent(
                action=action,
                object_type="User",
                object_id=str(user.pk) if user else "",
                details={"username": username[:150], **request_facts(request)},
            )
        ]
    )


def on_logged_in(sender, request, user, **kwargs):
    login_audit(request, user)


def on_login_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` are cleansed by Django; only the name tried is kept.
    _failed(credentials.get("username"), request, "login_failed")


def on_locked_out(sender, request=None, username=None, **kwargs):
    _failed(username, request, "login_locked_out")


# --- users, roles, firms, banks --------------------------------------------------------------


def _values(instance, fields) -> dict:
    return {name: getattr(instance, name) for name in fields}


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def on_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    """The watched fields as stored before this save (one read, only when one may change)."""
    fields = WATCHED[sender]
    if raw or instance.pk is None or (update_fields and not set(update_fields) & set(fields)):
        instance._audit_before = None
        return
    instance._audit_before = sender.objects.filter(pk=instance.pk).values(*fields).first()


def _changes(instance, fields) -> dict:
    before = getattr(instance, "_audit_before", None) or {}
    return {
        name: [_plain(before[name]), _plain(getattr(instance, name))]
        for name in fields
        if name in before and before[name] != getattr(instance, name)
    }


def on_user_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    actor = current_actor()
    if created:
        audit(actor, None, "user_created", instance, **_values(instance, USER_FIELDS))
        return
    changes = _changes(instance, USER_FIELDS)
    if changes:
        audit(actor, None, "user_changed", instance, changes=changes)
    if _changes(instance, ("password",)):
        audit(actor, None, "password_changed", instance, username=instance.username)


def on_firm_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        values = {name: _plain(value) for name, value in _values(instance, FIRM_FIELDS).items()}
        audit(current_actor(), instance, "firm_created", instance, **values)
    elif changes := _changes(instance, FIRM_FIELDS):
        audit(current_actor(), instance, "firm_changed", instance, changes=changes)


def on_bank_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        audit(current_actor(), None, "bank_created", instance, code=instance.code)
    elif changes := _changes(instance, BANK_FIELDS):
        audit(current_actor(), None, "bank_changed", instance, code=instance.code, changes=changes)


def _membership_facts(membership: Membership) -> dict:
    return {
        "user_id": membership.user_id,
        "role": membership.role,
        "firm_id": membership.firm_id,
        "bank": membership.bank.code if membership.bank_id else None,
    }


def on_membership_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    firm = instance.firm if instance.firm_id else None
    if created:
        audit(current_actor(), firm, "role_granted", instance, **_membership_facts(instance))
    elif changes := _changes(instance, MEMBERSHIP_FIELDS):
        facts = _membership_facts(instance)
        audit(current_actor(), firm, "role_changed", instance, **facts, changes=changes)


def on_membership_deleted(sender, instance, **kwargs):
    firm = instance.firm if instance.firm_id else None
    audit(current_actor(), firm, "role_revoked", instance, **_membership_facts(instance))


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="esfca.audit.login")
    user_login_failed.connect(on_login_failed, dispatch_uid="esfca.audit.login_failed")
    if apps.is_installed("axes"):  # lockouts, once django-axes guards the sign-ins
        from axes.signals import user_locked_out

        user_locked_out.connect(on_locked_out, dispatch_uid="esfca.audit.locked_out")
    for model in WATCHED:
        pre_save.connect(on_pre_save, sender=model, dispatch_uid=f"esfca.audit.pre.{model}")
    saved = {
        User: on_user_saved,
        Firm: on_firm_saved,
        Bank: on_bank_saved,
        Membership: on_membership_saved,
    }
    for model, receiver in saved.items():
        post_save.connect(receiver, sender=model, dispatch_uid=f"esfca.audit.post.{model}")
    post_delete.connect(on_membership_deleted, sender=Membership, dispatch_uid="esfca.audit.del")


# --- downloads -------------------------------------------------------------------------------


def summary_download_audit(request, firm: Firm, payload: dict, fmt: str) -> None:
    """A month's summary handed out as a document (the filed revision's, or the draft's)."""
    obj = MonthlySummary(pk=payload["id"]) if payload.get("id") else firm
    audit(
        request.user, firm, "summary_downloaded", obj,
        format=fmt, month=payload["month"], revision=payload["revision"],
        status=payload["status"], **request_facts(request),
    )  # fmt: skip


def portfolio_download_audit(request, bank: Bank, month: str, fmt: str) -> None:
    """A bank's portfolio of firms for a month handed out as a document."""
    audit(
        request.user, None, "portfolio_downloaded", bank,
        code=bank.code, format=fmt, month=month, **request_facts(request),
    )  # fmt: skip
