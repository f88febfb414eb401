"""Everything a summary month needs, loaded in a fixed number of queries for any number
of firms (``firm_months``): the month's receipt tallies, allocations, conversions and
transfers as plain rows, the receipts a flag may name, the ESFCA ledger sums, and the rule
data in force (rules.md §5).

The rows are named tuples rather than model instances, so a month of ten thousand
receipts costs the same dozen queries as a month of ten, and a bank portfolio of a
thousand firms the same dozen too.

On PostgreSQL (``stored=True``, the default) the receipt figures are the stored tallies
(``ReceiptTally``), and for a USD month the database judges flag 1 and returns only the
receipts a flag may name (``retention.months_named``).
``stored=False`` reads every receipt of the month and judges it in Python: the plain
recompute the stored path is tested against (tests/esfca/summaries/test_stored.py).
"""

from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Max, Q, Sum

from esfca import policy
from esfca.models import (
    Allocation,
    Conversion,
    Parameter,
    PurposeCode,
    Receipt,
    ReceiptTally,
    RetentionRuleVersion,
    TaxRate,
    Transfer,
)
from exporters.models import Firm
from exporters.selectors import BankSlice
from ledger.models import Account, Entry, FxRate, Transaction

from . import flags as flags_
from .retention import months_named

# What every row of the month carries: whose, which, when, in what, how much.
_RECORD_FIELDS = ("firm_id", "reference", "value_date", "currency", "amount")
RECEIPT_FIELDS = (
    "id",
    *_RECORD_FIELDS,
    "retained",
    "converted",
    "allowed_retention",
    "conversion_rate",
    "pkr_credited",
    "tax_rate",
    "tax_withheld",
    "ref_buy",
    "ref_buy_usd",
    "rule_effective_from",
    "rule_ratio",
    "rule_monthly_floor_usd",
    "rule_basis",
    "client_country",
    "purpose_code",
    "converted_on",
    "esfca__bank",
)
ALLOCATION_FIELDS = (
    "id",
    *_RECORD_FIELDS,
    "category",
    "payee_country",
    "investee_name",
    "investee_country",
    "sbp_approval_reference",
    "esfca__bank",
)
TALLY_FIELDS = (
    "firm_id",
    "currency",
    "client_country",
    "purpose_code",
    "receipts",
    "amount",
    "retained",
    "converted",
    "pkr_credited",
    "tax_withheld",
    "allowed_retention",
    "esfca__bank",
)
CONVERSION_FIELDS = ("id", *_RECORD_FIELDS, "rate", "esfca__bank")
TRANSFER_FIELDS = (
    "firm_id",
    "currency",
    "amount",
    "to_account__currency",
    "to_amount",
    "from_account__bank",
    "to_account__bank",
)


@dataclass
class Rules:
    """The rule data of the whole platform, as it stands now (small tables)."""

    retention: list
    tax_rates: list
    parameters: flags_.Parameters
    export_codes: frozenset
    rates: dict  # (currency, day) → list of (priority, source, buy), active only


@dataclass
class FirmMonth:
    firm: Firm
    first: date
    last: date
    accounts: list = field(default_factory=list)
    # Every receipt of the month (``stored=False``, or a month flag 1 must judge in Python),
    # or only those a flag may name (the figures then come from ``tallies``).
    receipts: list = field(default_factory=list)
    tallies: list | None = None  # the month's ``ReceiptTally`` rows; None: sum ``receipts``
    judged: dict | None = None  # flag 1 found by the database; None: judge ``receipts``
    allocations: list = field(default_factory=list)  # value date in the month
    allocations_after: list = field(default_factory=list)  # up to the round-trip window
    conversions: list = field(default_factory=list)
    transfers: list = field(default_factory=list)
    ledger: dict = field(default_factory=dict)  # currency → {"opening","closing", kind sums}
    books: dict = field(default_factory=dict)  # account id → (currency, opening, kind sums)
    # account id → when the latest reversal dated in the month was recorded (rules.md §9)
    reversals: dict = field(default_factory=dict)

    def at(self, banks: BankSlice) -> "FirmMonth":
        """The part of the month at the slice's banks (rules.md §11): its accounts, the
        receipts credited and the movements debited there, a transfer's side there only.
        The flags are judged on the whole month (the limit is firm-wide) and kept by the
        caller when their object is in this part."""
        if banks.whole:
            return self
        accounts = [a for a in self.accounts if banks.holds(a.bank_id)]
        part = FirmMonth(firm=self.firm, first=self.first, last=self.last, accounts=accounts)
        part.receipts = [r for r in self.receipts if banks.holds(r.esfca__bank)]
        if self.tallies is not None:
            part.tallies = [t for t in self.tallies if banks.holds(t.esfca__bank)]
        part.allocations = [a for a in self.allocations if banks.holds(a.esfca__bank)]
        part.allocations_after = [a for a in self.allocations_after if banks.holds(a.esfca__bank)]
        part.conversions = [c for c in self.conversions if banks.holds(c.esfca__bank)]
        # A transfer's hidden side keeps no currency, so no figure counts it.
        for t in self.transfers:
            out, into = banks.holds(t[5]), banks.holds(t[6])
            if out or into:
                part.transfers.append(
                    (t[0], t[1] if out else None, t[2], t[3] if into else None, *t[4:])
                )
        part.books = {a.pk: self.books[a.pk] for a in accounts if a.pk in self.books}
        part.reversals = {a.pk: self.reversals[a.pk] for a in accounts if a.pk in self.reversals}
        part.ledger = ledger_books(part.books.values())
        return part

    def reversed_at(self) -> datetime | None:
        """When the latest reversal dated in the month touching this part's accounts was
        recorded (None: none): after a filing, the filed month has changed (rules.md §9)."""
        return max(self.reversals.values(), default=None)

    def references(self) -> set[str]:
        """The flag objects of this part's movements (``receipt:REF`` and the like)."""
        return (
            {f"receipt:{r.reference}" for r in self.receipts}
            | {f"allocation:{a.reference}" for a in (*self.allocations, *self.allocations_after)}
            | {f"conversion:{c.reference}" for c in self.conversions}
        )


def ledger_books(books) -> dict:
    """Per currency: opening, closing and the month's movement per kind, over ``books``
    (each ``(currency, opening, {kind: moved})`` of one account)."""
    ledger: dict = {}
    for currency, opening, kinds in books:
        book = ledger.setdefault(
            currency, {"opening": Decimal(0), "closing": Decimal(0), "kinds": defaultdict(Decimal)}
        )
        book["opening"] += opening
        book["closing"] += opening + sum(kinds.values(), Decimal(0))
        for kind, moved in kinds.items():
            book["kinds"][kind] += moved
    return ledger


def fetch_rows(queryset, fields: tuple[str, ...], name: str) -> list:
    """The queryset's rows as named tuples.

    On PostgreSQL the compiled SQL runs on a plain cursor: psycopg already returns
    ``Decimal`` and ``date`` values, so Django's per-row converters and iterator (a third
    of a 10,000-receipt summary's time) are skipped. Elsewhere (SQLite stores decimals and
    dates as text) the ORM converts them.
    """
    queryset = queryset.values_list(*fields)
    if connection.vendor != "postgresql":
        return list(queryset.values_list(*fields, named=True))
    row = _row_types.get(name)
    if row is None:
        row = _row_types[name] = namedtuple(name, fields)
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row._make(values) for values in cursor.fetchall()]


_row_types: dict[str, type] = {}


def _rules(first: date, last: date, currencies: set[str]) -> Rules:
    retention = [v.as_policy() for v in RetentionRuleVersion.objects.all()]
    tax_rates = [
        policy.TaxRateRow(r.applies_to, r.effective_from, r.rate) for r in TaxRate.objects.all()
    ]
    parameters = flags_.Parameters(
        flags_.ParameterRow(key, since, value)
        for key, since, value in Parameter.objects.values_list("key", "effective_from", "value")
    )
    export_codes = frozenset(
        PurposeCode.objects.filter(export_proceeds=True).values_list("code", flat=True)
    )
    rates: dict = defaultdict(list)
    if currencies:
        for currency, day, source, buy in FxRate.objects.filter(
            currency__in=currencies | {policy.USD},
            date__range=(first, last),
            status=FxRate.Status.ACTIVE,
        ).values_list("currency", "date", "source", "buy"):
            rates[(currency, day)].append((FxRate.PRIORITY.get(source, 99), source, buy))
    return Rules(retention, tax_rates, parameters, export_codes, rates)


def _ledger_sums(
    months: dict[int, FirmMonth], accounts: list[Account], first: date, last: date
) -> None:
    """Each firm's ESFCA opening and closing per currency, the month's movement per kind
    of transaction, summed by the database from the entries, and per account when the
    month's latest reversal was recorded (in the same query)."""
    in_month = Q(transaction__value_date__gte=first)
    reversal = Q(transaction__kind=Transaction.Kind.REVERSAL)
    owner_of = {a.pk: a.owner_id for a in accounts}
    for account_id, currency, kind, opening_dr, opening_cr, dr, cr, reversed_at in (
        Entry.objects.filter(account_id__in=owner_of, transaction__value_date__lte=last)
        .values_list("account_id", "currency", "transaction__kind")
        .annotate(
            opening_dr=Sum("debit", filter=~in_month),
            opening_cr=Sum("credit", filter=~in_month),
            dr=Sum("debit", filter=in_month),
            cr=Sum("credit", filter=in_month),
            reversed_at=Max("transaction__posted_at", filter=in_month & reversal),
        )
        .order_by()
    ):
        month = months[owner_of[account_id]]
        if reversed_at is not None:
            month.reversals[account_id] = reversed_at
        books = month.books
        _, opening, kinds = books.setdefault(account_id, (currency, Decimal(0), {}))
        opening += (opening_dr or 0) - (opening_cr or 0)
        kinds[kind] = kinds.get(kind, Decimal(0)) + (dr or 0) - (cr or 0)
        books[account_id] = (currency, opening, kinds)
    for data in months.values():
        data.ledger = ledger_books(data.books.values())


def _dated_rows(model, fields: tuple[str, ...], ids: list[int], since: date, until: date):
    """The firms' rows of ``model`` (``ReceiptRow`` for ``Receipt``) with a value date from
    ``since`` to ``until``, in firm and date order."""
    return fetch_rows(
        model.objects.standing()
        .filter(firm_id__in=ids, value_date__range=(since, until))
        .order_by("firm_id", "value_date", "id"),
        fields,
        f"{model.__name__}Row",
    )


def firm_months(
    firms: list[Firm], first: date, *, stored: bool = True
) -> tuple[dict[int, FirmMonth], Rules]:
    """Everything the month of these firms needs, in a fixed number of queries; with
    ``stored`` (on PostgreSQL) the receipt figures from the stored tallies, flag 1 judged by
    the database, and only the receipts a flag may name (see the module's text)."""
    stored = stored and connection.vendor == "postgresql"
    _, last = policy.month_bounds(first)
    months = {f.pk: FirmMonth(firm=f, first=first, last=last) for f in firms}
    ids = list(months)
    accounts = list(
        Account.objects.filter(owner_id__in=ids, kind=Account.Kind.ESFCA)
        .select_related("bank")
        .order_by("owner_id", "currency", "id")
    )
    for account in accounts:
        months[account.owner_id].accounts.append(account)
    _ledger_sums(months, accounts, first, last)

    if stored:
        for data in months.values():
            data.tallies = []
        tallies = ReceiptTally.objects.filter(firm_id__in=ids, month=first).order_by(
            "firm_id", "currency", "client_country", "purpose_code", "esfca_id"
        )
        for row in fetch_rows(tallies, TALLY_FIELDS, "TallyRow"):
            months[row.firm_id].tallies.append(row)
    else:
        for row in _dated_rows(Receipt, RECEIPT_FIELDS, ids, first, last):
            months[row.firm_id].receipts.append(row)

    currencies = {a.currency for a in accounts} | {
        r.currency
        for m in months.values()
        for r in (m.receipts if m.tallies is None else m.tallies)
    }
    rules = _rules(first, last, currencies)
    window = max(
        (int(v) for v in rules.parameters.values(Parameter.Key.ROUND_TRIP_DAYS)), default=0
    )
    until = policy.day_after(last, window)
    for row in _dated_rows(Allocation, ALLOCATION_FIELDS, ids, first, until):
        target = months[row.firm_id]
        (target.allocations if row.value_date <= last else target.allocations_after).append(row)

    for row in _dated_rows(Conversion, CONVERSION_FIELDS, ids, first, last):
        months[row.firm_id].conversions.append(row)

    transfers = (
        Transfer.objects.standing()
        .filter(firm_id__in=ids, value_date__range=(first, last))
        .order_by("firm_id", "value_date", "id")
        .values_list(*TRANSFER_FIELDS)
    )
    for row in transfers:
        months[row[0]].transfers.append(row)

    if stored:
        _stored_receipts(months, rules)
    return months, rules


def _stored_receipts(months: dict[int, FirmMonth], rules: Rules) -> None:
    """The receipts a flag may name and flag 1's findings, from the database, for a USD
    month; every receipt of a month with other currencies (``retention.months_named``)."""
    row_type = _row_types.get("ReceiptRow") or _row_types.setdefault(
        "ReceiptRow", namedtuple("ReceiptRow", RECEIPT_FIELDS)
    )
    for pk, named in months_named(list(months.values()), rules, RECEIPT_FIELDS, row_type).items():
        months[pk].receipts, months[pk].judged = named.receipts, named.judged
