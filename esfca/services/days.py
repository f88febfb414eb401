"""The stored receipt days (``ReceiptDay``): every receipt written adds its figures to its
day, every receipt reversed takes them away, in the same transaction and under the firm's
lock (every writer of receipts holds it). The month's §2 position reads these few rows
instead of every receipt of the month.

The stored client months (``ClientMonth``, the dashboard's regions and top clients) and the
receipt tallies (``ReceiptTally``, the monthly summary's figures, ``tallies.py``) are kept
in the same call, the same way.

The sums are kept by ``sums.stored_sums_add``.
"""

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, Q, Sum

from exporters.models import Firm

from .. import policy
from ..models import ClientMonth, Receipt, ReceiptDay
from .sums import Totals, cents, stored_sums_add, sums_differences
from .tallies import receipt_tallies_add

ZERO = Decimal("0")
NONE_RATE = Decimal("0")  # the key's stand-in for "no reference rate stored"
FIGURES = ("amount", "retained", "converted", "pkr_credited", "tax_withheld")


class Line(NamedTuple):
    """One receipt's part in the stored sums (a reference rate of 0: none stored)."""

    value_date: date
    esfca_id: int
    currency: str
    ref_buy: Decimal
    ref_buy_usd: Decimal
    amount: Decimal
    retained: Decimal
    converted: Decimal
    pkr_credited: Decimal
    tax_withheld: Decimal
    client_name: str
    client_country: str
    purpose_code: str
    allowed_retention: Decimal

    @property
    def figures(self) -> tuple:
        """The ``FIGURES``, in their order."""
        return self[5:10]


def line_of_fields(fields: Mapping) -> Line:
    """A judged receipt's part (``Judgement.fields``, an import's new receipt)."""
    return Line(
        fields["value_date"],
        fields["esfca"].pk,
        fields["currency"],
        fields["ref_buy"] if fields["ref_buy"] is not None else NONE_RATE,
        fields["ref_buy_usd"] if fields["ref_buy_usd"] is not None else NONE_RATE,
        *(fields[name] for name in FIGURES),
        fields["client_name"],
        fields["client_country"],
        fields["purpose_code"],
        fields["allowed_retention"],
    )


def line_of(receipt: Receipt) -> Line:
    """A stored receipt's part."""
    return Line(
        receipt.value_date,
        receipt.esfca_id,
        receipt.currency,
        receipt.ref_buy if receipt.ref_buy is not None else NONE_RATE,
        receipt.ref_buy_usd if receipt.ref_buy_usd is not None else NONE_RATE,
        receipt.amount.amount,
        *(getattr(receipt, name) for name in FIGURES[1:]),
        receipt.client_name,
        receipt.client_country,
        receipt.purpose_code,
        receipt.allowed_retention,
    )


def receipt_days_add(firm: Firm, lines: Iterable[Line], *, sign: int = 1) -> None:
    """Add receipts' figures to their days (``sign=-1``: take them away, a reversal), to
    their client months and to their months' tallies. The caller holds the firm's lock."""
    lines = list(lines)
    client_months_add(firm, lines, sign=sign)
    receipt_tallies_add(firm, lines, sign=sign)
    totals = Totals(FIGURES)
    for line in lines:
        value_date, esfca_id, currency, buy, buy_usd = line[:5]
        totals.add((value_date, esfca_id, buy, buy_usd), {"currency": currency}, sign, line.figures)
    stored_sums_add(
        ReceiptDay, firm, totals, key=("value_date", "esfca_id", "ref_buy", "ref_buy_usd"),
        value_date__in={key[0] for key in totals.by_key},
    )  # fmt: skip


def rate_day_of(currency: str, buy: Decimal, buy_usd: Decimal, value_date: date) -> date:
    """The day whose rate table values a receipt in USD (``rules.stored_ref``): its value
    date for a non-USD receipt without both reference rates stored; the first of its month
    (any fixed day) for the others, whose rates do not depend on the day."""
    if currency != policy.USD and NONE_RATE in (buy, buy_usd):
        return value_date
    return value_date.replace(day=1)


def client_months_add(firm: Firm, lines: list[Line], *, sign: int = 1) -> None:
    """Add receipts' amounts to their client months (``sign=-1``: take them away).
    The caller holds the firm's lock."""
    totals = Totals(("amount",))
    for line in lines:
        value_date, esfca_id, currency, buy, buy_usd, amount = line[:6]
        name, country = line.client_name, line.client_country
        rate_day = rate_day_of(currency, buy, buy_usd, value_date)
        key = (value_date.replace(day=1), esfca_id, name, country, buy, buy_usd, rate_day)
        totals.add(key, {"currency": currency}, sign, (amount,))
    stored_sums_add(
        ClientMonth, firm, totals,
        key=("month", "esfca_id", "client_name", "client_country", "ref_buy", "ref_buy_usd",
             "rate_day"),
        month__in={key[0] for key in totals.by_key},
        client_name__in={key[2] for key in totals.by_key},
    )  # fmt: skip


# What a month's running sums read of its days, in order (``batch.MONTH_FIELDS``).
def month_sums(firm: Firm, spans: Iterable[tuple[date, date]]) -> list[tuple]:
    """The firm's receipts of these date spans as (amount, retained, currency, ref_buy,
    ref_buy_usd, value_date) sums per day and reference rates (None: no rate stored), in
    date order: a USD equivalent is linear in the amount, so the sums give the same exact
    §2 position as the receipts one by one."""
    spans = list(spans)
    if not spans:
        return []
    within = Q()
    for first, last in spans:
        within |= Q(value_date__range=(first, last))
    sums: dict[tuple, list] = {}
    rows = (
        ReceiptDay.objects.filter(within, firm=firm)
        .order_by("value_date", "currency", "ref_buy", "ref_buy_usd")
        .values_list("value_date", "currency", "ref_buy", "ref_buy_usd", "amount", "retained")
    )
    for value_date, currency, buy, buy_usd, amount, retained in rows:
        total = sums.setdefault((value_date, currency, buy, buy_usd), [ZERO, ZERO])
        total[0] += amount
        total[1] += retained
    return [
        (amount, retained, currency, _rate(buy), _rate(buy_usd), value_date)
        for (value_date, currency, buy, buy_usd), (amount, retained) in sums.items()
    ]


def _rate(value: Decimal) -> Decimal | None:
    return None if value == NONE_RATE else value


def receipt_days_verify() -> list[str]:
    """Every firm's stored receipt days against a recompute from its standing receipts:
    one line per difference (none when they agree)."""
    key = ("firm_id", "value_date", "esfca_id")
    recomputed: dict[tuple, tuple] = {}
    grouped = (
        Receipt.objects.standing()
        .values(*key, "ref_buy", "ref_buy_usd")
        .annotate(n=Count("id"), **{f"{name}_sum": Sum(name) for name in FIGURES})
        .order_by()
    )
    for row in grouped:
        buy = row["ref_buy"] if row["ref_buy"] is not None else NONE_RATE
        buy_usd = row["ref_buy_usd"] if row["ref_buy_usd"] is not None else NONE_RATE
        figures = tuple(cents(row[f"{name}_sum"]) for name in FIGURES)
        recomputed[(*(row[k] for k in key), buy, buy_usd)] = (row["n"], *figures)
    stored = {
        (row.firm_id, row.value_date, row.esfca_id, row.ref_buy, row.ref_buy_usd): (
            row.receipts,
            *(cents(getattr(row, name)) for name in FIGURES),
        )
        for row in ReceiptDay.objects.all()
    }
    return sums_differences(
        recomputed,
        stored,
        lambda key: "Receipt day of firm {}, {}, ESFCA {}, rates {}/{}".format(*key),
    )


def client_months_verify() -> list[str]:
    """Every firm's stored client months against a recompute from its standing receipts:
    one line per difference (none when they agree)."""
    key = ("firm_id", "esfca_id", "client_name", "client_country", "currency")
    recomputed: dict[tuple, list] = {}
    rows = Receipt.objects.standing().values_list(
        *key, "value_date", "ref_buy", "ref_buy_usd", "amount"
    )
    for firm, esfca, name, country, currency, value_date, buy, buy_usd, amount in rows.iterator(
        chunk_size=5000
    ):
        buy = buy if buy is not None else NONE_RATE
        buy_usd = buy_usd if buy_usd is not None else NONE_RATE
        rate_day = rate_day_of(currency, buy, buy_usd, value_date)
        month = value_date.replace(day=1)
        total = recomputed.setdefault(
            (firm, month, esfca, name, country, buy, buy_usd, rate_day), [0, ZERO]
        )
        total[0] += 1
        total[1] += getattr(amount, "amount", amount)  # a Money, or its Decimal
    recomputed = {k: (n, cents(amount)) for k, (n, amount) in recomputed.items()}
    stored = {
        (r.firm_id, r.month, r.esfca_id, r.client_name, r.client_country, r.ref_buy,
         r.ref_buy_usd, r.rate_day): (r.receipts, cents(r.amount))
        for r in ClientMonth.objects.all()
    }  # fmt: skip
    return sums_differences(
        recomputed,
        stored,
        lambda key: (
            "Client month of firm {}, {:%Y-%m}, ESFCA {}, client {!r} ({}), "
            "rates {}/{} of {}".format(*key)
        ),
    )
