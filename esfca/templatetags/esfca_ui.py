"""Display helpers: amounts for Pakistan (thousands separators on screen), unambiguous dates."""

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from django import template
from django.urls import reverse
from django.utils import timezone

from esfca import policy

register = template.Library()


@register.filter
def money(value, places: int = 2) -> str:
    """``2792965`` → ``2,792,965.00`` (Decimal formatting, never float). ``None`` → ``—``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, Fraction):
        value = policy.round_half_up(value)
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value))
        except ArithmeticError:
            return str(value)
    exponent = Decimal(1).scaleb(-int(places))
    return f"{value.quantize(exponent):,.{int(places)}f}"


@register.filter
def unsigned(value):
    """The size of a figure whose sign a word beside it already says ("loss PKR 1.00", not
    "loss PKR -1.00")."""
    return abs(value) if value is not None else None


@register.filter
def rate(value) -> str:
    """Exchange rates: up to 6 places, trailing zeros trimmed to 4."""
    if value is None:
        return "—"
    value = Decimal(value)
    text = f"{value:,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(4, '0')}"


@register.filter
def percent(value, places: int = 2) -> str:
    """A ratio as a percentage: ``0.0025`` → ``0.25%``."""
    if value is None:
        return "—"
    return f"{(Decimal(value) * 100).quantize(Decimal(1).scaleb(-int(places))).normalize():f}%"


@register.filter
def day(value) -> str:
    """``04 Nov 2025``: day, month name, year, readable in any locale's habits."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    return str(value)


@register.filter
def month_label(value) -> str:
    return value.strftime("%b %Y") if isinstance(value, date) else str(value)


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def movement_url(ref) -> str:
    """The page of a movement a flag names (``details.MovementRef``)."""
    return reverse(f"{ref.kind}_detail", kwargs={"firm_id": ref.firm_id, "pk": ref.pk})
