"""The second factor (issue 14; api-contract.md 1.1, "Tokens"): TOTP (RFC 6238: SHA1, 6 digits,
30 s) with single-use recovery codes, kept as django-otp devices.

Who: bank reviewers and platform admins (staff too: they reach the admin) must enrol; anyone
who has enrolled is asked for a code at every sign-in, on the web (``esfca/middleware.py``) and
as ``otp`` at POST /api/v1/auth/token/. A code is the six digits of the authenticator app or
one of ten recovery codes, each good once; a TOTP code is good once too (django-otp keeps the
last time step used).

Wrong codes are throttled twice: each counts as a failed sign-in (``esfca/lockout.py``: the
same 10-in-15-minutes lockout as passwords), and django-otp makes the device wait 1, 2, 4, …
seconds after successive wrong codes. The device records a failure as it checks, so nothing
here checks a code inside a transaction that the refusal would roll back.
"""

import math
import re
from base64 import b32encode
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_otp import user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from exporters.errors import DomainError
from exporters.models import User
from exporters.selectors import user_is_reviewer
from exporters.services import user_create

from .audit import audit

RECOVERY_CODES = 10
TOTP_CODE = re.compile(r"[0-9]{6}")
RECOVERY_CODE = re.compile(r"[a-z2-7]{8}")  # StaticToken.random_token: 40 random bits, base32
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"

MISSING = "Required: the 6-digit code of your authenticator app, or a recovery code."
MALFORMED = "Type the 6 digits of your authenticator app, or a recovery code (8 letters/digits)."
WRONG = "That code is not right, or was already used."
NOT_ENROLLED = (
    "Your role needs a second factor and you have none yet: sign in on the web pages once to "
    "enrol (a platform admin: manage.py otp_enroll)."
)


class SecondFactorRefused(DomainError):
    """A missing or wrong code: ``validation_error`` with the reason under ``otp``."""

    def __init__(self, message: str):
        super().__init__(message, otp=[message])


@dataclass(frozen=True)
class Enrolment:
    """A confirmed TOTP device and the recovery codes, shown to their owner once."""

    device: TOTPDevice
    recovery_codes: list[str]

    @property
    def uri(self) -> str:
        return totp_uri(self.device)


# --- who ---------------------------------------------------------------------------------------


def second_factor_required(user: User) -> bool:
    """Must enrol: platform admins and staff (the admin site), bank reviewers."""
    return user.is_superuser or user.is_staff or user_is_reviewer(user)


def second_factor_enrolled(user: User) -> bool:
    return user_has_device(user, confirmed=True)


def second_factor_expected(user: User) -> bool:
    """Asked for at sign-in: whoever must enrol, and whoever has."""
    return second_factor_required(user) or second_factor_enrolled(user)


# --- the TOTP device ---------------------------------------------------------------------------


def totp_uri(device: TOTPDevice) -> str:
    """``otpauth://totp/<issuer>:<username>?secret=…&algorithm=SHA1&digits=6&period=30``."""
    return device.config_url


def totp_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps take it typed in (base32)."""
    return b32encode(device.bin_key).decode()


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device of the web's enrolment page: the same one until it is confirmed,
    so reloading the page shows the same secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_enrolment_confirm(*, user: User, device_id: int, code: str) -> Enrolment:
    """Confirm the device of ``totp_enrolment_start`` with a code it generated: it becomes
    the user's only TOTP device, with ten new recovery codes."""
    device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        raise SecondFactorRefused("This enrolment is no longer open: start again.")
    code = _normalised(code)
    if not TOTP_CODE.fullmatch(code):
        raise SecondFactorRefused(MALFORMED if code else MISSING)
    _check_allowed(device)
    if not device.verify_token(code):
        raise SecondFactorRefused(WRONG)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_issue(user)
        audit(user, None, "second_factor_enrolled", user, via="web")
    return Enrolment(device, codes)


@transaction.atomic
def second_factor_enrol(*, user: User, actor, via: str) -> Enrolment:
    """A confirmed TOTP device and ten recovery codes at once, replacing any the user had:
    the secret goes to its owner out of band (the API's POST /users/ for a reviewer, the
    ``otp_enroll`` command for an admin)."""
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=True)
    codes = _recovery_codes_issue(user)
    audit(actor, None, "second_factor_enrolled", user, via=via)
    return Enrolment(device, codes)


@transaction.atomic
def user_onboard(*, actor, **fields) -> tuple[User, Enrolment | None]:
    """``user_create``; a user whose role needs a second factor (a bank reviewer) is enrolled
    at once, and the enrolment is answered once (api-contract.md 1.1)."""
    user = user_create(**fields)
    if not second_factor_required(user):
        return user, None
    return user, second_factor_enrol(user=user, actor=actor, via="onboarding")


def _recovery_codes_issue(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODES:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)


# --- checking a code ---------------------------------------------------------------------------


def second_factor_verify(*, user: User, code: str) -> Device:
    """The device of ``user`` that accepts ``code`` (six digits: the authenticator app; eight
    letters and digits: a recovery code, used up); ``SecondFactorRefused`` otherwise. A
    recovery code used is audited with how many are left."""
    code = _normalised(code)
    if TOTP_CODE.fullmatch(code):
        devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    elif RECOVERY_CODE.fullmatch(code):
        devices = StaticDevice.objects.filter(user=user, confirmed=True)
    else:
        raise SecondFactorRefused(MALFORMED if code else MISSING)
    for device in devices.order_by("pk"):
        _check_allowed(device)
        with transaction.atomic():  # django-otp's way: the device row locked while it checks
            locked = type(device).objects.select_for_update().get(pk=device.pk)
            accepted = locked.verify_token(code)
        if accepted:
            if isinstance(locked, StaticDevice):
                left = locked.token_set.count()
                audit(user, None, "recovery_code_used", user, recovery_codes_left=left)
            return locked
    raise SecondFactorRefused(WRONG)


def second_factor_pass(*, user: User, code: str) -> Device:
    """The API's sign-in: a user who must enrol and has not is refused with the way to enrol;
    a user with a device passes ``second_factor_verify``."""
    if not second_factor_enrolled(user):
        raise SecondFactorRefused(NOT_ENROLLED)
    return second_factor_verify(user=user, code=code)


def _check_allowed(device: Device) -> None:
    allowed, why = device.verify_is_allowed()
    if not allowed:
        until = (why or {}).get("locked_until")
        seconds = max(math.ceil((until - timezone.now()).total_seconds()) if until else 1, 1)
        unit = "second" if seconds == 1 else "seconds"
        raise SecondFactorRefused(f"Too many wrong codes: wait {seconds} {unit}, then try again.")


def _normalised(code: str | None) -> str:
    """Spaces and dashes are how apps and printouts group the characters, and recovery codes
    are lower case."""
    return re.sub(r"[\s-]", "", code or "").lower()
