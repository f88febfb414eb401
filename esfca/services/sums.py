"""Stored sums of receipts (the receipt days, client months and receipt tallies): one row
per firm and key, a count of receipts and figures, kept by adding each receipt's part in
the transaction that writes or reverses it, under the firm's lock.

Sums are added in Python with ``Decimal`` (SQLite's column arithmetic is binary floating
point), in at most three statements per table and call whatever the number of receipts: a
row is created with its first receipt and deleted with its last.
"""

from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import models

from exporters.models import Firm

ZERO = Decimal("0")


class Totals:
    """What a call adds to one table: per key, the fixed fields of a new row (its
    currency), a count of receipts and the figures' sums."""

    def __init__(self, figures: tuple[str, ...]):
        self.figures = figures
        self.by_key: dict[tuple, list] = {}

    def add(self, key: tuple, fixed: dict, sign: int, values: Iterable[Decimal]) -> None:
        total = self.by_key.get(key)
        if total is None:
            total = self.by_key[key] = [fixed, 0, [ZERO] * len(self.figures)]
        total[1] += sign
        sums = total[2]
        for i, value in enumerate(values):
            sums[i] += sign * value


def stored_sums_add(
    model: type[models.Model], firm: Firm, totals: Totals, *, key: tuple[str, ...], **scope
) -> None:
    """Add ``totals`` to ``model``'s rows of ``firm`` named by ``key`` (the field names of
    a key's values); ``scope`` filters the rows read to those the keys can name."""
    if not totals.by_key:
        return
    stored = {
        tuple(getattr(row, name) for name in key): row
        for row in model.objects.filter(firm=firm, **scope)
    }
    figures = totals.figures
    changed, added, emptied = [], [], []
    for values, (fixed, count, sums) in totals.by_key.items():
        row = stored.get(values)
        if row is None:
            row = model(
                firm=firm, **dict(zip(key, values, strict=True)), **fixed, receipts=0,
                **dict.fromkeys(figures, ZERO),
            )  # fmt: skip
            added.append(row)
        else:
            changed.append(row)
        row.receipts += count
        for name, value in zip(figures, sums, strict=True):
            setattr(row, name, getattr(row, name) + value)
        if row.receipts == 0:
            emptied.append(row)
    if emptied:
        model.objects.filter(pk__in=[row.pk for row in emptied if row.pk]).delete()
    model.objects.bulk_create([row for row in added if row.receipts])
    model.objects.bulk_update([row for row in changed if row.receipts], ["receipts", *figures])


def sums_differences(recomputed: dict, stored: dict, name: Callable[[tuple], str]) -> list[str]:
    """One line per key whose stored sums differ from the recompute (none: they agree);
    ``name`` says which row a key is."""
    return [
        f"{name(key)}: stored {stored.get(key)}, the receipts give {recomputed.get(key)}."
        for key in sorted(recomputed.keys() | stored.keys(), key=str)
        if recomputed.get(key) != stored.get(key)
    ]


def cents(value) -> Decimal:
    """A sum as compared: to the cent."""
    return Decimal(value).quantize(Decimal("0.01"))
