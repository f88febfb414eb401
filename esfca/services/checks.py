"""Field checks every movement starts with, collected so that a request hears about all of
its invalid fields at once (``validation_error``)."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from exporters.validators import ISO_COUNTRIES
from ledger.fx.arith import rate_error

from .. import policy
from ..errors import InvalidInput

MAX_AMOUNT = Decimal("999999999999.99")  # 14 digits, 2 decimals


def foreign_currencies() -> list[str]:
    return [c for c in settings.CURRENCIES if c != "PKR"]


def local_today() -> date:
    return timezone.localdate()


class FieldErrors:
    """Collects field errors so a request hears about all of them at once."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise InvalidInput("Some fields are invalid.", **self.fields)


def check_amount(errors: FieldErrors, field: str, value, *, allow_zero: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        errors.add(field, "Enter a decimal amount.")
    elif value < 0 or (value == 0 and not allow_zero):
        errors.add(field, "The amount must be greater than zero.")
    elif value > MAX_AMOUNT:
        errors.add(field, "The amount is too large.")
    elif value != value.quantize(policy.CENT, rounding="ROUND_DOWN"):
        errors.add(field, "Use at most two decimal places.")


def check_rate(errors: FieldErrors, field: str, value) -> None:
    """A rate given with a movement: the same limits as every stored rate (``ledger.fx``)."""
    problem = None if value is None else rate_error(value)
    if problem:
        errors.add(field, problem)


def check_reference(errors: FieldErrors, reference) -> None:
    if not isinstance(reference, str) or not reference or len(reference) > 120:
        errors.add("reference", "Give a reference of 1 to 120 characters.")


def check_common(errors: FieldErrors, *, reference, value_date, currency, today: date) -> None:
    check_reference(errors, reference)
    if not isinstance(value_date, date):
        errors.add("value_date", "Enter a date as YYYY-MM-DD.")
    elif value_date > today:
        errors.add("value_date", "The value date cannot be in the future.")
    if currency is not None and currency not in foreign_currencies():
        errors.add("currency", f"Use one of {', '.join(foreign_currencies())}.")


def movement_errors(*, reference, value_date, currency, amount, today: date) -> FieldErrors:
    """The field checks every movement starts with: reference, value date, currency, amount
    (``currency=None``: a movement whose currency is its account's, not a field)."""
    errors = FieldErrors()
    check_common(errors, reference=reference, value_date=value_date, currency=currency, today=today)
    check_amount(errors, "amount", amount)
    return errors


def check_country(errors: FieldErrors, field: str, value, *, required: bool = True) -> None:
    if not value:
        if required:
            errors.add(field, "This field is required.")
    elif value not in ISO_COUNTRIES:
        errors.add(field, f"'{value}' is not an ISO 3166 alpha-2 country code.")


def check_text(errors: FieldErrors, field: str, value, *, required: bool = True, limit=200) -> None:
    if required and not (value or "").strip():
        errors.add(field, "This field is required.")
    elif value and len(value) > limit:
        errors.add(field, f"At most {limit} characters.")
