"""Onboarding writes: banks, firms and users with their role (platform admin's work)."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .errors import DomainError
from .models import Bank, Firm, Membership, User


class OnboardingError(DomainError):
    def __init__(self, message: str, **details):
        super().__init__(message, **details)


class OnboardingConflict(OnboardingError):
    code = "duplicate_reference"
    status = 409


def password_check(password: str, user: User) -> None:
    """The password validators of settings (AUTH_PASSWORD_VALIDATORS), on every path that
    sets a password; their messages under ``password``."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise OnboardingError("The password is too weak.", password=list(exc.messages)) from exc


def _clean(instance) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise OnboardingError("Some fields are invalid.", **exc.message_dict) from exc


def bank_create(*, code: str, name: str) -> Bank:
    if Bank.objects.filter(code=code).exists():
        raise OnboardingConflict(f"A bank with code {code} already exists.", code=[code])
    bank = Bank(code=code, name=name)
    _clean(bank)
    try:
        with transaction.atomic():
            bank.save()
    except IntegrityError as exc:  # a concurrent request took the code first
        raise OnboardingConflict(f"A bank with code {code} already exists.", code=[code]) from exc
    return bank


def firm_create(**fields) -> Firm:
    firm = Firm(**fields)
    _clean(firm)
    if firm.registration_body == Firm.RegistrationBody.SELF_DECLARATION and (
        firm.kind != Firm.Kind.FREELANCER
    ):
        raise OnboardingError(
            "Only freelancers may register by self-declaration.",
            registration_body=["Only freelancers may register by self-declaration."],
        )
    firm.save()
    return firm


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    role: str,
    firm: Firm | None = None,
    bank: Bank | None = None,
) -> User:
    """A user with exactly one role: of a firm (officer, viewer) or of a bank (reviewer)."""
    if role not in Membership.Role.values:
        raise OnboardingError(
            f"Unknown role {role!r}.", role=[f"Use one of {', '.join(Membership.Role.values)}."]
        )
    if role in Membership.FIRM_ROLES and firm is None:
        raise OnboardingError("A firm role needs a firm.", firm=["This field is required."])
    if role == Membership.Role.BANK_REVIEWER and bank is None:
        raise OnboardingError("A reviewer needs a bank.", bank=["This field is required."])
    if User.objects.filter(username=username).exists():
        raise OnboardingConflict(f"The username {username} is taken.", username=[username])
    user = User(username=username, email=email)
    password_check(password, user)
    user.set_password(password)
    _clean(user)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise OnboardingConflict(f"The username {username} is taken.") from exc
    Membership.objects.create(
        user=user,
        role=role,
        firm=firm if role in Membership.FIRM_ROLES else None,
        bank=bank if role == Membership.Role.BANK_REVIEWER else None,
    )
    return user
