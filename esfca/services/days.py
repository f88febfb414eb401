"""The stored receipt days (``ReceiptDay``): every receipt written adds its figures to its
day, every receipt reversed takes them away, in the same transaction and under the firm's
lock (every writer of receipts holds it). The month's §2 position reads these few rows
instead of every receipt of the month.

Sums are added in Python with ``Decimal`` (SQLite's column arithmetic is binary floating
point), at most three statements per call whatever the number of receipts.
"""

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum

from exporters.models import Firm

from ..models import Receipt, ReceiptDay
from .tallies import receipt_tallies_add

ZERO = Decimal("0")
NONE_RATE = Decimal("0")  # the key's stand-in for "no reference rate stored"
FIGURES = ("amount", "retained", "converted", "pkr_credited", "tax_withheld")

# One receipt's part: (value_date, esfca_id, currency, ref_buy, ref_buy_usd, *FIGURES,
# client_country, purpose_code, allowed_retention); the last three are the tallies'
# (``tallies.receipt_tallies_add``).
Line = tuple


def line_of_fields(fields: Mapping) -> Line:
    """A judged receipt's part (``Judgement.fields``, an import's new receipt)."""
    return (
        fields["value_date"],
        fields["esfca"].pk,
        fields["currency"],
        fields["ref_buy"] if fields["ref_buy"] is not None else NONE_RATE,
        fields["ref_buy_usd"] if fields["ref_buy_usd"] is not None else NONE_RATE,
        *(fields[name] for name in FIGURES),
        fields["client_country"],
        fields["purpose_code"],
        fields["allowed_retention"],
    )


def line_of(receipt: Receipt) -> Line:
    """A stored receipt's part."""
    return (
        receipt.value_date,
        receipt.esfca_id,
        receipt.currency,
        receipt.ref_buy if receipt.ref_buy is not None else NONE_RATE,
        receipt.ref_buy_usd if receipt.ref_buy_usd is not None else NONE_RATE,
        receipt.amount.amount,
        *(getattr(receipt, name) for name in FIGURES[1:]),
        receipt.client_country,
        receipt.purpose_code,
        receipt.allowed_retention,
    )


def receipt_days_add(firm: Firm, lines: Iterable[Line], *, sign: int = 1) -> None:
    """Add receipts' figures to their days (``sign=-1``: take them away, a reversal), and
    to their months' tallies. The caller holds the firm's lock."""
    lines = list(lines)
    receipt_tallies_add(
        firm,
        ((*line[:3], line[-3], line[-2], *line[5:-3], line[-1]) for line in lines),
        sign=sign,
    )
    totals: dict[tuple, list] = {}
    for value_date, esfca_id, currency, buy, buy_usd, *figures in lines:
        figures = figures[: len(FIGURES)]
        key = (value_date, esfca_id, buy, buy_usd)
        total = totals.setdefault(key, [currency, 0, *(ZERO for _ in FIGURES)])
        total[1] += sign
        for i, figure in enumerate(figures, start=2):
            total[i] += sign * figure
    if not totals:
        return
    stored = {
        (row.value_date, row.esfca_id, row.ref_buy, row.ref_buy_usd): row
        for row in ReceiptDay.objects.filter(firm=firm, value_date__in={key[0] for key in totals})
    }
    changed, added, emptied = [], [], []
    for key, (currency, count, *figures) in totals.items():
        row = stored.get(key)
        if row is None:
            value_date, esfca_id, buy, buy_usd = key
            row = ReceiptDay(
                firm=firm, value_date=value_date, esfca_id=esfca_id, currency=currency,
                ref_buy=buy, ref_buy_usd=buy_usd, receipts=0,
                **dict.fromkeys(FIGURES, ZERO),
            )  # fmt: skip
            added.append(row)
        else:
            changed.append(row)
        row.receipts += count
        for name, figure in zip(FIGURES, figures, strict=True):
            setattr(row, name, getattr(row, name) + figure)
        if row.receipts == 0:
            emptied.append(row)
    if emptied:
        ReceiptDay.objects.filter(pk__in=[row.pk for row in emptied if row.pk]).delete()
    ReceiptDay.objects.bulk_create([row for row in added if row.receipts])
    ReceiptDay.objects.bulk_update([row for row in changed if row.receipts], ["receipts", *FIGURES])


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
        figures = tuple(_cents(row[f"{name}_sum"]) for name in FIGURES)
        recomputed[(*(row[k] for k in key), buy, buy_usd)] = (row["n"], *figures)
    stored = {
        (row.firm_id, row.value_date, row.esfca_id, row.ref_buy, row.ref_buy_usd): (
            row.receipts,
            *(_cents(getattr(row, name)) for name in FIGURES),
        )
        for row in ReceiptDay.objects.all()
    }
    problems = []
    for day in sorted(recomputed.keys() | stored.keys(), key=str):
        if recomputed.get(day) != stored.get(day):
            firm, value_date, esfca, buy, buy_usd = day
            problems.append(
                f"Receipt day of firm {firm}, {value_date}, ESFCA {esfca}, rates {buy}/{buy_usd}: "
                f"stored {stored.get(day)}, the receipts give {recomputed.get(day)}."
            )
    return problems


def _cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))
