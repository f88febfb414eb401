"""Receipts in bulk (imports): many rows with exactly the outcome of ``receipt_record``
row by row, judged by the same ``receipt_judge``, in few queries and one bulk posting."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import connection, transaction

from exporters.errors import DomainError
from exporters.models import Firm
from ledger.errors import FxRateMissing
from ledger.fx.selectors import buying_rate, buying_rates_many
from ledger.posting import Posting, PreparedPostings, postings_prepare, transactions_post_many

from .. import backdating, policy
from ..models import PurposeCode, Receipt, RetentionRuleVersion
from .checks import local_today
from .copy_rows import ReceiptsCopy, receipts_copy, receipts_copy_write, receipts_insert
from .days import line_of_fields, month_sums, receipt_days_add
from .movements import (
    esfca_account,
    internal_account,
    lock_firm,
    pkr_account,
    replay,
)
from .receipts import (
    ReceiptMonth,
    ReceiptRequest,
    receipt_judge,
    receipt_request_record,
)
from .rules import (
    RefRates,
    firm_tax_rates,
    position_add_sums,
    ref_rates,
    retention_rule_on,
    stored_ref,
    tax_rate_on,
)


class NewReceipt:
    """A receipt judged in a batch: its fields, then at the flush its transaction and id.
    The model instance is built only if someone asks for it (an import reads the figures)."""

    __slots__ = ("_instance", "fields", "pk")

    def __init__(self, fields: dict):
        self.fields = fields
        self.pk: int | None = None
        self._instance: Receipt | None = None

    @property
    def request_fingerprint(self) -> str:
        return self.fields["request_fingerprint"]

    def instance(self) -> Receipt:
        if self._instance is None:
            receipt = Receipt(id=self.pk, **self.fields)
            receipt._state.adding = False
            receipt._state.db = connection.alias
            self._instance = receipt
        return self._instance


@dataclass
class RowOutcome:
    """What became of one row: ``created``, ``replayed`` (the stored receipt), or ``refused``
    with the refusal's code, message and details (exactly what ``receipt_record`` raises)."""

    stored: Receipt | NewReceipt | None = None
    created: bool = False
    error: DomainError | None = None

    @property
    def receipt(self) -> Receipt | None:
        return self.stored.instance() if isinstance(self.stored, NewReceipt) else self.stored

    def value(self, name: str):
        """One field of the receipt, without building a model instance for a new one."""
        if isinstance(self.stored, NewReceipt):
            return self.stored.fields[name]
        return getattr(self.stored, name)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "refused"
        return "created" if self.created else "replayed"

    @property
    def code(self) -> str:
        return self.error.code if self.error else ""

    @property
    def message(self) -> str:
        return self.error.message if self.error else ""

    @property
    def details(self) -> dict:
        return self.error.details if self.error else {}


class Memo:
    """A lookup done once per chunk and arguments; a refusal is remembered too."""

    def __init__(self, fn):
        self.fn = fn
        self.seen: dict = {}

    def __call__(self, *args):
        if args not in self.seen:
            try:
                self.seen[args] = (self.fn(*args), None)
            except DomainError as exc:
                self.seen[args] = (None, exc)
        value, exc = self.seen[args]
        if exc is not None:
            raise exc
        return value


class ChunkLookups:
    """``ReceiptLookups`` read once for a chunk of rows: the same helpers answer, so a
    missing rule, account or rate is refused in the same words as ``receipt_record``."""

    def __init__(self, firm: Firm, requests: list[ReceiptRequest]):
        self.firm = firm
        days = {r.value_date for r in requests if isinstance(r.value_date, date)}
        currencies = {r.currency for r in requests if isinstance(r.currency, str)}
        self.rates = buying_rates_many(currencies=currencies | {policy.USD}, days=days)
        self.rules = list(RetentionRuleVersion.objects.filter(firm_kind=firm.kind))
        self.taxes = list(firm_tax_rates(firm))
        self.purpose_codes = set(PurposeCode.objects.values_list("code", flat=True))
        self.esfca = Memo(lambda currency, bank: esfca_account(firm, currency, bank, named=True))
        self.pkr = Memo(lambda bank_id: pkr_account(firm, bank_id, same_bank=True))
        self.internal = Memo(lambda kind, currency: internal_account(firm, kind, currency))
        self._buying = Memo(lambda currency, on: buying_rate(currency=currency, on=on))
        self._ref = Memo(lambda currency, on: ref_rates(currency, on))
        self._rule = Memo(self._rule_on)  # per day: a chunk has thousands of rows, few days
        self._tax_rate = Memo(self._tax_rate_on)

    def rule(self, on: date) -> RetentionRuleVersion:
        return self._rule(on)

    def tax_rate(self, on: date) -> Decimal:
        return self._tax_rate(on)

    def _rule_on(self, on: date) -> RetentionRuleVersion:
        return policy.in_force(self.rules, on) or retention_rule_on(self.firm, on)

    def _tax_rate_on(self, on: date) -> Decimal:
        row = policy.in_force(self.taxes, on)
        return row.rate if row is not None else tax_rate_on(self.firm, on)

    def buying(self, currency: str, on: date) -> Decimal:
        rate = self.rates.get((currency, on))
        return rate if rate is not None else self._buying(currency, on)

    def ref(self, currency: str, on: date) -> RefRates:
        buy, buy_usd = self.rates.get((currency, on)), self.rates.get((policy.USD, on))
        if currency != policy.USD and buy is not None and buy_usd is not None:
            return RefRates(buy, buy_usd)
        return self._ref(currency, on)


# What a month's running sums read of a stored receipt (or of a sum of receipts), in order.
MONTH_FIELDS = ("amount", "retained", "currency", "ref_buy", "ref_buy_usd", "value_date")


class RunningMonth:
    """One calendar month of the firm's receipts as its running USD sums (§2), kept
    incrementally: the receipts added since the last ``so_far`` are valued when it is asked.
    A month that rows are dated back into also keeps its receipts by day (``days``), for the
    §2 backdating check (``backdating.MonthDays``)."""

    def __init__(self):
        self.pending: list[tuple] = []  # MONTH_FIELDS of receipts (or of sums of them)
        self.position = policy.MonthPosition()
        self.latest: date | None = None
        self.days: backdating.MonthDays | None = None

    def add(self, receipt: Receipt) -> None:
        self.add_fields(
            (
                receipt.amount.amount,
                receipt.retained,
                receipt.currency,
                receipt.ref_buy,
                receipt.ref_buy_usd,
                receipt.value_date,
            )
        )
        self.days = None  # recorded by receipt_record: the days are read again if needed

    def add_new(self, fields: dict) -> None:
        self.add_fields(tuple(fields[name] for name in MONTH_FIELDS))
        if self.days is not None:
            try:
                self.days.add(fields["value_date"], later_receipt(fields))
            except FxRateMissing:  # valued when a row is dated before it, as receipt_record
                self.days = None

    def add_fields(self, fields: tuple) -> None:
        self.pending.append(fields)
        value_date = fields[-1]
        if self.latest is None or value_date > self.latest:
            self.latest = value_date

    def so_far(self) -> policy.MonthPosition:
        position_add_sums(self.position, self.pending)
        self.pending = []
        return self.position


# What the §2 backdating check reads of a stored receipt.
LATER_FIELDS = (
    "value_date", "amount", "retained", "currency", "ref_buy", "ref_buy_usd", "tax_rate",
    "rule_effective_from", "rule_ratio", "rule_monthly_floor_usd", "rule_basis",
)  # fmt: skip


def later_receipt(fields: dict) -> policy.LaterReceipt:
    """A receipt's fields as the §2 backdating check reads them (``receipts._later``)."""
    ref = stored_ref(
        fields["currency"], fields["ref_buy"], fields["ref_buy_usd"], fields["value_date"]
    )
    rule = policy.RetentionRule(
        firm_kind="",
        effective_from=fields["rule_effective_from"],
        ratio=fields["rule_ratio"],
        monthly_floor_usd=fields["rule_monthly_floor_usd"],
        basis=fields["rule_basis"],
    )
    return policy.LaterReceipt(
        rule=rule,
        amount=fields["amount"],
        retained=fields["retained"],
        tax_rate=fields["tax_rate"],
        buy=ref.buy,
        buy_usd=ref.buy_usd,
    )


def stored_days(firm: Firm, key: tuple[int, int]) -> backdating.MonthDays | None:
    """The firm's standing receipts of a month by day, in the order ``receipt_month`` reads
    them (value date, then id); None when one of them has no reference rates to be valued
    with (its backdated rows then go through ``receipt_record``, which refuses them alike)."""
    first, last = policy.month_bounds(date(*key, 1))
    rows = (
        Receipt.objects.standing()
        .filter(firm=firm, value_date__range=(first, last))
        .order_by("value_date", "pk")
        .values_list(*LATER_FIELDS)
    )
    days = backdating.MonthDays()
    try:
        for row in rows:
            fields = dict(zip(LATER_FIELDS, row, strict=True))
            days.add(fields["value_date"], later_receipt(fields))
    except FxRateMissing:
        return None
    return days


def stored_receipts(firm: Firm, references: list[str]) -> list[Receipt]:
    """The firm's receipts with these references. On PostgreSQL the references go as one
    array parameter: a chunk has thousands, which Django's ``__in`` would prepare and
    quote one by one."""
    if not references:
        return []
    if connection.vendor != "postgresql":
        return list(Receipt.objects.filter(firm=firm, reference__in=references))
    table = connection.ops.quote_name(Receipt._meta.db_table)
    return list(
        Receipt.objects.raw(
            f"SELECT * FROM {table} WHERE firm_id = %s AND reference = ANY(%s)",
            [firm.pk, references],
        )
    )


def month_key(on: date) -> tuple[int, int]:
    return on.year, on.month


def stored_months(firm: Firm, keys: set[tuple[int, int]]) -> dict[tuple[int, int], RunningMonth]:
    """The firm's stored receipts of these months as running months, read from their
    stored days (a month of thousands of receipts is a few rows)."""
    months = {key: RunningMonth() for key in keys}
    spans = [policy.month_bounds(date(y, m, 1)) for y, m in keys]
    for fields in month_sums(firm, spans):
        months[month_key(fields[-1])].add_fields(fields)
    return months


def backdated_months(requests: list[ReceiptRequest], months: dict) -> set[tuple[int, int]]:
    """The months into which some row may be dated back: before a receipt of its month
    already stored or in an earlier row (a refused row counts too: at worst a month's days
    are read for nothing)."""
    latest = {key: month.latest for key, month in months.items()}
    keys = set()
    for request in requests:
        on = request.value_date
        if not isinstance(on, date):
            continue
        key = month_key(on)
        last = latest.get(key)
        if last is not None and on < last:
            keys.add(key)
        elif last is None or on > last:
            latest[key] = on
    return keys


class NeedsLock(Exception):
    """A row judged ahead of its chunk's lock needs the database under the lock (a receipt
    dated back into a month whose days this chunk could not read, a reference reused with
    other content)."""


@dataclass
class Carried:
    """What chunks judged ahead of their lock carry forward: the references and months
    seen so far, with the receipts of the chunks before (written or being written)."""

    known: dict = field(default_factory=dict)
    months: dict = field(default_factory=dict)


def receipt_requests(rows: list[dict]) -> list[ReceiptRequest]:
    """Import rows as requests; a row naming a field a receipt does not have is a bug of
    the caller, not a refusal (``TypeError`` for the whole call)."""
    return [ReceiptRequest.from_row(row) for row in rows]


class Batch:
    """One chunk of ``receipts_record_many``: judged under the firm's lock, or ``ahead``
    of it (``chunks.judge_ahead``), where a row that would read the database raises
    ``NeedsLock`` and what the chunk learns is ``carried`` on to the next one."""

    def __init__(
        self,
        firm: Firm,
        actor,
        requests: list[ReceiptRequest],
        today: date,
        carried: Carried | None = None,
        ahead: bool = False,
    ):
        self.firm, self.actor, self.today, self.ahead = firm, actor, today, ahead
        carried = carried or Carried()
        self.lookups = ChunkLookups(firm, requests)
        self.known: dict[str, Receipt | NewReceipt] = carried.known
        references = [
            r.reference
            for r in requests
            if isinstance(r.reference, str) and r.reference not in self.known
        ]
        self.known.update((r.reference, r) for r in stored_receipts(firm, references))
        self.months: dict[tuple[int, int], RunningMonth] = carried.months
        keys = {month_key(r.value_date) for r in requests if isinstance(r.value_date, date)}
        fresh = stored_months(firm, keys - set(self.months))
        self.months.update(fresh)
        for key in backdated_months(requests, self.months) & set(fresh):
            fresh[key].days = stored_days(firm, key)
        self.pending: list[tuple[NewReceipt, Posting]] = []
        self.prepared: PreparedPostings | None = None
        self.copied: ReceiptsCopy | None = None

    def prepare(self) -> None:
        """Before the flush, without the locks: validate the postings and, on PostgreSQL,
        take the ids and format every row for ``COPY`` (a flush then mostly sends them)."""
        self.prepared = postings_prepare([posting for _, posting in self.pending], copy=True)
        plan = self.prepared.copy
        if plan is not None:
            new = [n for n, _ in self.pending]
            for n, txn in zip(new, plan.transactions, strict=True):
                n.fields["transaction"] = txn
            self.copied = receipts_copy(self.firm, self.actor, new)

    def flush(self) -> None:
        """Post the pending receipts: one bulk ledger posting, then their rows in bulk."""
        if not self.pending:
            return
        posted = transactions_post_many(self.prepared or [posting for _, posting in self.pending])
        if self.copied is not None and posted.copied:
            receipts_copy_write(self.copied)
        else:  # not prepared, or the ledger posted the usual way (other ids)
            new = [n for n, _ in self.pending]
            for n, txn in zip(new, posted.transactions, strict=True):
                n.fields["transaction"] = txn
            receipts_insert(self.firm, self.actor, new)
        receipt_days_add(self.firm, (line_of_fields(n.fields) for n, _ in self.pending))
        self.pending, self.prepared, self.copied = [], None, None

    def one(self, request: ReceiptRequest) -> RowOutcome:
        existing = self.known.get(request.reference)
        if existing is not None:
            if existing.request_fingerprint == request.fingerprint:
                return RowOutcome(existing, created=False)
            if self.ahead:
                raise NeedsLock
            self.flush()  # the stored record's id goes into the refusal
            replay(Receipt, self.firm, request.reference, request.fingerprint)  # raises
        request.check(today=self.today, purpose_known=self.lookups.purpose_codes.__contains__)
        month = self.months[month_key(request.value_date)]
        on = request.value_date
        if month.latest is None or month.latest <= on:
            receipt_month = ReceiptMonth(so_far=month.so_far)
        elif month.days is not None:  # §2 backdating, from the month's days kept here
            receipt_month = ReceiptMonth(so_far=lambda: month.days.through(on), days=month.days)
        elif self.ahead:  # the month's days need the database: carried, or not valued
            raise NeedsLock
        else:
            return self.backdated(request, month)  # receipt_record's own path
        judgement = receipt_judge(
            firm=self.firm,
            actor=self.actor,
            request=request,
            lookups=self.lookups,
            month=receipt_month,
        )
        new = NewReceipt(judgement.fields)
        self.pending.append((new, judgement.posting))
        self.known[request.reference] = new
        month.add_new(judgement.fields)
        return RowOutcome(new, created=True)

    def backdated(self, request: ReceiptRequest, month: RunningMonth) -> RowOutcome:
        """A row dated back into a month whose receipts could not all be valued (a receipt
        without reference rates): ``receipt_record`` refuses or records it as for one."""
        self.flush()  # receipt_record reads the month from the database
        receipt, created = receipt_request_record(
            firm=self.firm, actor=self.actor, request=request, today=self.today
        )
        if created:
            self.known[receipt.reference] = receipt
            month.add(receipt)
        return RowOutcome(receipt, created=created)

    def judge_all(self, requests: list[ReceiptRequest]) -> list[RowOutcome]:
        outcomes = []
        for request in requests:
            try:
                outcomes.append(self.one(request))
            except DomainError as exc:
                outcomes.append(RowOutcome(error=exc))
        return outcomes


def receipts_record_many(*, firm: Firm, actor, rows: list[dict], today: date | None = None):
    """Record many receipts with exactly the outcome of ``receipt_record`` called for each
    row in order (rules.md §2–§3), in one database transaction and a bounded number of
    queries: the firm is locked once, the rules, rates, accounts and the months the rows
    touch are read once, each month's running USD sums are carried forward, and the new
    receipts are posted with one bulk ledger posting.

    Each row is a dict of ``ReceiptRequest``'s fields (``receipt_record``'s keyword
    arguments). Returns one ``RowOutcome`` per row. A refused row leaves nothing behind
    and does not stop the others. A row dated before a receipt already in its month
    (stored, or earlier in the rows) is judged by the same ``receipt_judge`` against the
    month's receipts by day (``backdating.MonthDays``, read once per chunk and month, kept
    as rows are added): the §2 backdating rule in O(days × log n) a row.
    """
    return requests_record(
        firm=firm, actor=actor, requests=receipt_requests(rows), today=today or local_today()
    )


def requests_record(
    *, firm: Firm, actor, requests: list[ReceiptRequest], today: date
) -> list[RowOutcome]:
    """``receipts_record_many`` of requests already built, under the firm's lock."""
    with transaction.atomic():
        batch = Batch(lock_firm(firm), actor, requests, today)
        outcomes = batch.judge_all(requests)
        batch.flush()
    return outcomes
