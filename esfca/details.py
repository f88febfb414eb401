"""A movement's own page (receipt, allocation, conversion, transfer): its figures, the rule
version and the rates it used, its ledger entries, and its timeline (who recorded it and
when; the compliance flags and the filed summaries that name it); and the links from
flags to those pages.

Tenant scoping is done before: every function takes the ``Firm`` its caller fetched
through ``exporters.selectors``, and finds movements only among that firm's. A flag names
a movement as ``"<kind>:<reference>"`` (``esfca/summaries/flags.py``); the kinds here are
those names.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import models, transaction

from exporters.models import Firm
from exporters.selectors import WHOLE_FIRM, BankSlice
from ledger.fx.selectors import buying_rates_many
from ledger.models import Entry

from . import lists, policy, services
from .models import MonthlySummary
from .summaries.figures import summary_compute
from .summaries.formatting import previous_month

# The kinds reversals know (``services.MOVEMENT_KINDS``), by their models.
KINDS: dict[str, type[models.Model]] = {
    kind: spec.model for kind, spec in services.MOVEMENT_KINDS.items()
}
# The accounts (and their banks) each kind's page names.
_ACCOUNTS = {
    "receipt": ("esfca__bank",),
    "allocation": ("esfca__bank",),
    "conversion": ("esfca__bank", "pkr_account__bank"),
    "transfer": ("from_account__bank", "to_account__bank"),
}


@dataclass(frozen=True)
class MovementRef:
    """Where a movement's page is: its kind, firm and id."""

    kind: str
    firm_id: int
    pk: int


@dataclass(frozen=True)
class FiledMention:
    """A filed revision of a summary whose frozen flags name the movement."""

    summary: MonthlySummary
    flags: list[dict]


@dataclass(frozen=True)
class MovementDetail:
    kind: str
    movement: models.Model
    entries: list[Entry]
    # PKR per unit of each currency the movement touches, reference buying rates of its
    # value date (None where the table has none).
    reference_rates: list[tuple[str, Decimal | None]]
    flags: list[dict]  # the live flags that name it
    filed: list[FiledMention]
    reversed_by: models.Model | None = None  # its reversal (rules.md §9)
    corrected_into: models.Model | None = None  # the movement recorded in its place

    @property
    def reversible(self) -> bool:
        """Reversed once at most; a reversal is not itself reversible (rules.md §9)."""
        return self.movement.reverses_id is None and self.reversed_by is None

    @property
    def obj(self) -> str:
        return flag_object(self.kind, self.movement.reference)


def flag_object(kind: str, reference: str) -> str:
    """How a flag names a movement."""
    return f"{kind}:{reference}"


def _currencies(kind: str, movement) -> list[str]:
    if kind == "transfer":
        found = [movement.from_account.currency, movement.to_account.currency]
    else:
        found = [movement.currency]
    return sorted({*found, policy.USD})


def _flag_months(kind: str, value_date: date) -> list[date]:
    """The months whose flags may name a movement: its own, and for an allocation the month
    before too (a round trip is flagged in the receipt's month, §6.6)."""
    first = value_date.replace(day=1)
    return [previous_month(first), first] if kind == "allocation" else [first]


def _filed_mentions(firm: Firm, months: list[date], obj: str) -> list[FiledMention]:
    filed = (
        MonthlySummary.objects.filter(firm=firm, month__in=months)
        .exclude(status=MonthlySummary.Status.DRAFT)
        .select_related("filed_by")
        .order_by("month", "revision")
    )
    mentions = []
    for summary in filed:
        named = [f for f in summary.snapshot.get("flags", []) if f.get("object") == obj]
        if named:
            mentions.append(FiledMention(summary, named))
    return mentions


# Where a movement's accounts' banks are, per kind: the lists' own paths (one rule).
_BANK_PATHS = {
    "receipt": lists.RECEIPTS.banks,
    "allocation": lists.ALLOCATIONS.banks,
    "conversion": lists.CONVERSIONS.banks,
    "transfer": lists.TRANSFERS.banks,
}


def movement_of(firm: Firm, kind: str, pk: int, banks: BankSlice = WHOLE_FIRM):
    """The firm's movement of ``kind`` with its accounts. Raises ``LookupError`` for an
    unknown kind and the model's ``DoesNotExist`` for a movement that is not the firm's, or
    not on an account of ``banks`` (a reviewer's slice, rules.md §11)."""
    if kind not in KINDS:
        raise LookupError(f"No movement kind {kind!r}.")
    related = ("created_by", "transaction", "reverses", "corrects", *_ACCOUNTS[kind])
    rows = KINDS[kind].objects.select_related(*related)
    return rows.filter(banks.accounts(*_BANK_PATHS[kind])).get(firm=firm, pk=pk)


def movement_detail(
    firm: Firm, kind: str, pk: int, banks: BankSlice = WHOLE_FIRM
) -> MovementDetail:
    """Everything a movement's page shows (``movement_of``'s errors if none)."""
    movement = movement_of(firm, kind, pk, banks)
    entries = list(
        Entry.objects.filter(transaction_id=movement.transaction_id)
        .select_related("account__bank")
        .order_by("id")
    )
    currencies = _currencies(kind, movement)
    rates = buying_rates_many(currencies=currencies, days=[movement.value_date])
    obj = flag_object(kind, movement.reference)
    months = _flag_months(kind, movement.value_date)
    live = (f for m in months for f in summary_compute(firm=firm, month=m)["flags"])
    flags = [f for f in live if f["object"] == obj]
    return MovementDetail(
        kind=kind,
        movement=movement,
        entries=entries,
        reference_rates=[(c, rates.get((c, movement.value_date))) for c in currencies],
        flags=flags,
        filed=_filed_mentions(firm, months, obj),
        reversed_by=_linked(kind, reverses=movement),
        corrected_into=_linked(kind, corrects=movement),
    )


def _linked(kind: str, **link):
    return KINDS[kind].objects.filter(**link).select_related("created_by").first()


def flag_targets(firm: Firm, flags: Iterable[dict]) -> dict[str, MovementRef]:
    """The pages of the movements the flags name, by the flag's ``object``: one query per
    kind named. Objects that name no movement of the firm (the firm, a summary, a
    reference since gone) are left out."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for f in flags:
        kind, _, reference = (f.get("object") or "").partition(":")
        if kind in KINDS and reference:
            wanted[kind].add(reference)
    targets = {}
    for kind, references in wanted.items():
        rows = KINDS[kind].objects.filter(firm=firm, reference__in=references)
        for reference, pk in rows.values_list("reference", "pk"):
            targets[flag_object(kind, reference)] = MovementRef(kind, firm.pk, pk)
    return targets


# --- reversals and corrections (rules.md §9) -------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """One movement a correction would record, with its ledger entries."""

    kind: str
    movement: models.Model
    entries: list[Entry]


@dataclass(frozen=True)
class CorrectionPreview:
    reversal: Effect
    new: Effect


def _effect(kind: str, movement) -> Effect:
    entries = Entry.objects.filter(transaction_id=movement.transaction_id)
    return Effect(kind, movement, list(entries.select_related("account__bank").order_by("id")))


def correction_preview(*, firm: Firm, kind: str, **correction) -> CorrectionPreview:
    """Both effects of ``services.movement_correct`` (the reversal and the new movement),
    as the service itself computes them, inside a transaction that is then rolled back:
    nothing is kept. Its refusals are raised as they are."""
    with transaction.atomic():
        reversal, new, _ = services.movement_correct(firm=firm, kind=kind, **correction)
        preview = CorrectionPreview(_effect(kind, reversal), _effect(kind, new))
        transaction.set_rollback(True)
    return preview
