"""The stored receipt tallies (``ReceiptTally``): every receipt written adds its figures to
its month's tally (ESFCA, client country, purpose code), every receipt reversed takes them
away, in the same transaction and under the firm's lock, as ``receipt_days_add`` does for
the receipt days (it calls ``receipt_tallies_add``). A monthly summary reads these few
rows instead of every receipt of the month.

The sums are kept by ``sums.stored_sums_add``.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from exporters.models import Firm

from ..models import Receipt, ReceiptTally
from .sums import Totals, cents, stored_sums_add, sums_differences

ZERO = Decimal("0")
FIGURES = (
    "amount",
    "retained",
    "converted",
    "pkr_credited",
    "tax_withheld",
    "allowed_retention",
)
KEY = ("firm_id", "month", "esfca_id", "client_country", "purpose_code")


def receipt_tallies_add(firm: Firm, lines: Iterable, *, sign: int = 1) -> None:
    """Add receipts' figures to their months' tallies (``sign=-1``: take them away, a
    reversal); ``lines`` are ``days.Line``s. The caller holds the firm's lock."""
    totals = Totals(FIGURES)
    for line in lines:
        key = (line.value_date.replace(day=1), line.esfca_id, line.client_country,
               line.purpose_code or "")  # fmt: skip
        values = (*line.figures, line.allowed_retention)
        totals.add(key, {"currency": line.currency}, sign, values)
    stored_sums_add(
        ReceiptTally, firm, totals, key=("month", "esfca_id", "client_country", "purpose_code"),
        month__in={key[0] for key in totals.by_key},
    )  # fmt: skip


def _recomputed(receipts) -> dict[tuple, tuple]:
    """The tallies of ``receipts`` (a queryset), summed by the database."""
    grouped = (
        receipts.annotate(month=TruncMonth("value_date"))
        .values(*KEY, "currency")
        .annotate(n=Count("id"), **{f"{name}_sum": Sum(name) for name in FIGURES})
        .order_by()
    )
    out = {}
    for row in grouped:
        month = row["month"]
        month = month.date() if hasattr(month, "date") else month
        key = (row["firm_id"], month, row["esfca_id"], row["client_country"], row["purpose_code"])
        out[key] = (row["currency"], row["n"], *(cents(row[f"{n}_sum"]) for n in FIGURES))
    return out


def receipt_tallies_verify() -> list[str]:
    """Every firm's stored receipt tallies against a recompute from its standing receipts:
    one line per difference (none when they agree)."""
    recomputed = _recomputed(Receipt.objects.standing())
    stored = {
        tuple(getattr(row, k) for k in KEY): (
            row.currency,
            row.receipts,
            *(cents(getattr(row, name)) for name in FIGURES),
        )
        for row in ReceiptTally.objects.all()
    }
    return sums_differences(
        recomputed,
        stored,
        lambda key: "Receipt tally of firm {}, {:%Y-%m}, ESFCA {}, {}, purpose {!r}".format(*key),
    )


def receipt_tallies_rebuild(firm_ids: Iterable[int], months: Iterable[date]) -> None:
    """Write the tallies of these firms' months afresh from their standing receipts (data
    written in bulk outside the services: the benchmark's seed)."""
    firm_ids, months = list(firm_ids), [m.replace(day=1) for m in months]
    ReceiptTally.objects.filter(firm_id__in=firm_ids, month__in=months).delete()
    receipts = Receipt.objects.standing().filter(firm_id__in=firm_ids)
    rows = []
    for key, (currency, count, *figures) in _recomputed(receipts).items():
        if key[1] not in months:
            continue
        rows.append(
            ReceiptTally(
                **dict(zip(KEY, key, strict=True)),
                currency=currency,
                receipts=count,
                **dict(zip(FIGURES, figures, strict=True)),
            )
        )
    ReceiptTally.objects.bulk_create(rows, batch_size=5000)
