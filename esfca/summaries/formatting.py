"""How the summaries write their values: money and ratios as the contract's strings,
months as ``YYYY-MM``, moments in local time, and the canonical JSON a filed snapshot's
SHA-256 is taken of."""

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from django.utils import timezone

from esfca import policy
from esfca.errors import InvalidInput, NoSuchMonth

CENT = policy.CENT
RATIO = Decimal("0.0001")


def money(value) -> str:
    """A Decimal as the contract's 2-place string."""
    return format(Decimal(value or 0).quantize(CENT), "f")


def ratio(numerator: Decimal, denominator: Decimal) -> str:
    if not denominator:
        return format(Decimal(0).quantize(RATIO), "f")
    percent = policy.round_half_up(Fraction(numerator) * 100 / Fraction(denominator))
    return format((percent / 100).quantize(RATIO), "f")


def canonical_json(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# The months a summary, a filing or a portfolio may name (api-contract.md 1.1): from the
# first month a retention rule is in force (rules.md §2: February 2021) to the last month a
# date can hold.
FIRST_MONTH = date(2021, 2, 1)
LAST_MONTH = date(9999, 12, 1)
_MONTH = re.compile(r"(\d{4,})-(\d{2})", re.ASCII)


def month_parse(text: str) -> date:
    """ "2025-11" → date(2025, 11, 1). Not a month as ``YYYY-MM`` (``2025-13``, ``abcd-ef``):
    a validation error; a month before ``FIRST_MONTH`` or after ``LAST_MONTH`` (``0860-01``,
    ``10000-01``): ``NoSuchMonth``, a 404."""
    match = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if match is None or not 1 <= int(match[2]) <= 12:
        raise InvalidInput("Give the month as YYYY-MM.", month=["Give the month as YYYY-MM."])
    year = int(match[1]) if len(match[1]) <= 4 else None  # five digits: past 9999 anyway
    if year is None or not _key(FIRST_MONTH) <= (year, int(match[2])) <= _key(LAST_MONTH):
        raise NoSuchMonth(f"No month {text}: months run from 2021-02 to 9999-12.")
    return date(year, int(match[2]), 1)


def _key(first: date) -> tuple[int, int]:
    return first.year, first.month


def month_label(first: date) -> str:
    return f"{first:%Y-%m}"


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def local_iso(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None
