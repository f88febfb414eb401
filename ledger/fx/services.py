"""Writes of the rate table: every rate is stored by ``fx_rate_store``, whoever brings it.

The API (a rate typed by a platform admin), the admin (a rate typed in, a CSV uploaded), the
``fx_import_csv`` command and the feeds all store through that one function, with the same
validation (``arith.rate_error``: positive, 6 places, below ``MAX_RATE``; never dated in the
future). Each says who it is with a ``RateWriter`` (``by``: how, and the person). Rules
(rules.md §10; design.md "FX rates"; rules.md §1: Decimal only):

- **Who writes.** Feeds and platform admins only; the doors check the person (the API:
  ``IsPlatformAdmin``; the admin site: superusers). Every rate written, approved or rejected
  is announced (``signals.rate_written``, ``signals.rate_decided``) inside its transaction;
  the esfca app writes the audit row.
- **One rate per key.** A rate is keyed by (currency, date, source). A rate posted
  through the API refuses a second one for its key (``DuplicateRate``): a published rate
  is never silently replaced. The feeds, imports and the admin reconcile instead:
- **Idempotent.** Storing the same figures again changes nothing.
- **Active rates never change silently.** Different figures for a key whose
  row is *active* are a conflict: reported and logged, not applied (an admin
  decides). A row that is *held* or *rejected* has never been used, so new
  figures replace it in place and go through the guard again.
- **Move guard, on every new rate** (``fx_guard_check``): its buy and its sell are each
  compared with those of the latest *active* rate of the same currency from any source dated
  on or before its date and at most ``FX_GUARD_WINDOW_WORKING_DAYS`` (10) working days
  before it (``selectors.fx_rate_guarding``; another source's rate of the same day counts).
  None in that window: active. A move beyond ``FX_GUARD_MAX_MOVE_PCT`` percent: stored
  *held*, used by no selector until a platform admin approves it (``fx_rate_decide``:
  active) or rejects it. No writer is exempt.
- **Feed dates.** A feed job (``fx_refresh``, whatever the source label) writes no rate dated
  after today or more than ``FX_FEED_MAX_AGE_WORKING_DAYS`` (5) working days before it: such
  a payload fails whole, and its ``FxRefreshLog`` row says why. A person may store any past
  date, never a future one.
- **All or nothing per fetch.** A provider's whole payload is validated first;
  on any failure nothing is stored and an ``FxRefreshLog`` row says why.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.errors import InvalidPosting
from ledger.exact import working_days_between
from ledger.models import FxRate, FxRefreshLog

from .arith import move_pct, rate_error, rate_text, round_half_up
from .errors import (
    DuplicateRate,
    FxFeedError,
    FxFeedInvalid,
    FxFeedUnavailable,
    RateNotFound,
    RateNotHeld,
)
from .providers import FxProvider, RateSet, parse_rates_csv, provider_named
from .selectors import fx_rate_guarding
from .signals import rate_decided, rate_written

logger = logging.getLogger(__name__)


class How(StrEnum):
    """How a rate came in (the audit trail says it; feeds have their own date limits)."""

    FEED = "feed"  # a feed job: fx_refresh
    API = "api"  # typed by a platform admin: POST /api/v1/fx-rates/
    ADMIN = "admin"  # typed in the admin site
    UPLOAD = "upload"  # a CSV uploaded in the admin site
    COMMAND = "command"  # manage.py fx_import_csv


@dataclass(frozen=True)
class RateWriter:
    """Who writes a rate or decides a held one: how, and the person (None for a feed job or a
    command run at the shell, where ``label`` names who ran it)."""

    how: How
    actor: object = None  # a user
    label: str = ""

    @property
    def is_feed(self) -> bool:
        return self.how == How.FEED


FEED = RateWriter(How.FEED)


@dataclass(frozen=True)
class RowOutcome:
    currency: str
    date: date
    outcome: str  # created | updated | unchanged | held | conflict
    message: str = ""
    rate: FxRate | None = None


@dataclass
class StoreResult:
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome in kinds)

    @property
    def created(self) -> int:  # new rows, active or held
        return self.count("created", "held")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def held_outcomes(self) -> list[RowOutcome]:
        """New or replaced rates that landed held for review."""
        return [
            o
            for o in self.outcomes
            if o.outcome in ("held", "updated") and o.rate.status == FxRate.Status.HELD
        ]

    @property
    def held(self) -> int:
        return len(self.held_outcomes)

    @property
    def conflicts(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.outcome == "conflict"]


def rate_date_error(on: date, *, today: date | None = None) -> str | None:
    """Why nobody may store a rate dated ``on``: a reference rate is never dated in the future."""
    today = today or timezone.localdate()
    if on > today:
        return f"A rate cannot be dated in the future ({on.isoformat()}; today is {today})."
    return None


def feed_date_error(on: date, *, today: date | None = None) -> str | None:
    """Why a feed job may not write a rate dated ``on`` (rules.md §10): in the future, or more
    than ``FX_FEED_MAX_AGE_WORKING_DAYS`` working days before today."""
    today = today or timezone.localdate()
    if problem := rate_date_error(on, today=today):
        return problem
    limit = settings.FX_FEED_MAX_AGE_WORKING_DAYS
    age = working_days_between(on, today)
    if age > limit:
        return (
            f"A feed rate dated {on.isoformat()} is {age} working days old on {today}; "
            f"a feed writes rates at most {limit} working days old."
        )
    return None


def fx_guard_check(*, currency: str, on: date, buy: Decimal, sell: Decimal) -> tuple[str, str]:
    """The status a new rate gets, and why (rules.md §10): held when its buy or its sell moves
    more than ``FX_GUARD_MAX_MOVE_PCT`` percent from the latest active rate of the currency,
    from any source, in the ``FX_GUARD_WINDOW_WORKING_DAYS`` working days up to ``on``."""
    limit = Decimal(str(settings.FX_GUARD_MAX_MOVE_PCT))
    last = fx_rate_guarding(currency=currency, on=on)
    if last is None:
        return FxRate.Status.ACTIVE, ""
    for side, old, new in (("buy", last.buy, buy), ("sell", last.sell, sell)):
        moved = move_pct(old, new)
        if moved > limit:
            return (
                FxRate.Status.HELD,
                f"Held: {side} {rate_text(new)} moved {round_half_up(moved, 2)}% from "
                f"{rate_text(old)} ({last.source}) of {last.date.isoformat()} (limit {limit}%).",
            )
    return FxRate.Status.ACTIVE, ""


def fx_rate_store(
    *,
    currency: str,
    on: date,
    buy: Decimal,
    sell: Decimal,
    source: str,
    by: RateWriter,
    note: str = "",
    refuse_existing: bool = False,
) -> RowOutcome:
    """Store one rate (PKR per unit): the only way a rate gets into the table.

    Invalid figures, source or date raise ``InvalidPosting`` with the field errors. A rate
    already stored for (currency, date, source) raises ``DuplicateRate`` when
    ``refuse_existing`` (the API), and is otherwise reconciled: unchanged, a conflict, or
    replaced when it was never used (see the module docstring). Every new or replaced rate
    goes through the move guard; each one written is announced (``rate_written``) for the
    audit trail, in this transaction.
    """
    _refuse_invalid(buy=buy, sell=sell, source=source, on=on, by=by)
    try:
        with transaction.atomic():
            existing = (
                FxRate.objects.select_for_update()
                .filter(source=source, currency=currency, date=on)
                .first()
            )
            if existing is None:
                outcome = _create(source, currency, on, buy, sell, note)
            elif not refuse_existing:
                outcome = _store_again(existing, buy, sell, note)
            else:
                raise _duplicate(source, currency, on)
            if outcome.outcome in ("created", "held", "updated"):
                rate_written.send(
                    sender=FxRate,
                    rate=outcome.rate,
                    by=by,
                    outcome=outcome.outcome,
                    message=outcome.message,
                )
    except IntegrityError as exc:  # a concurrent writer stored the same key first
        raise _duplicate(source, currency, on) from exc
    if outcome.rate.status == FxRate.Status.HELD and outcome.outcome != "unchanged":
        logger.warning("FX %s: %s %s %s", source, currency, on.isoformat(), outcome.message)
    elif outcome.outcome == "conflict":
        logger.warning("FX %s: %s", source, outcome.message)
    return outcome


def _refuse_invalid(*, buy, sell, source, on, by: RateWriter) -> None:
    errors: dict[str, list[str]] = {}
    for side, value in (("buy", buy), ("sell", sell)):
        if problem := rate_error(value):
            errors[side] = [problem]
    if source not in FxRate.Source.values:
        errors["source"] = [f"Use one of {', '.join(FxRate.Source.values)}."]
    if problem := (feed_date_error(on) if by.is_feed else rate_date_error(on)):
        errors["date"] = [problem]
    if errors:
        raise InvalidPosting("Some fields are invalid.", **errors)


def _duplicate(source: str, currency: str, on: date) -> DuplicateRate:
    return DuplicateRate(
        f"A {source} rate for {currency} on {on.isoformat()} already exists.",
        currency=currency,
        date=on.isoformat(),
        source=source,
    )


def _create(source, currency, on, buy, sell, note) -> RowOutcome:
    status, why = fx_guard_check(currency=currency, on=on, buy=buy, sell=sell)
    rate = FxRate.objects.create(
        source=source,
        currency=currency,
        date=on,
        buy=buy,
        sell=sell,
        status=status,
        note=(why or note)[:300],
    )
    if status == FxRate.Status.HELD:
        return RowOutcome(currency, on, "held", why, rate=rate)
    return RowOutcome(currency, on, "created", rate=rate)


def _store_again(existing: FxRate, buy, sell, note) -> RowOutcome:
    """New figures for a stored key: the same ones change nothing, an active rate stays."""
    currency, on = existing.currency, existing.date
    if existing.buy == buy and existing.sell == sell:
        return RowOutcome(currency, on, "unchanged", rate=existing)
    if existing.status == FxRate.Status.ACTIVE:
        return RowOutcome(
            currency,
            on,
            "conflict",
            f"{currency} {on.isoformat()} is already active at {existing.buy}/{existing.sell};"
            f" {buy}/{sell} not applied (change it in the admin if it is a correction).",
            rate=existing,
        )
    status, why = fx_guard_check(currency=currency, on=on, buy=buy, sell=sell)
    existing.buy, existing.sell, existing.status = buy, sell, status
    existing.note = (why or note)[:300]
    existing.save(update_fields=["buy", "sell", "status", "note"])
    return RowOutcome(currency, on, "updated", why, rate=existing)


def fx_rates_store(
    *, source: str, rate_sets: list[RateSet], by: RateWriter, note: str = ""
) -> StoreResult:
    """Store the rates of ``rate_sets`` for ``source`` atomically, oldest day first.

    Each goes through ``fx_rate_store`` (reconciled and guarded); its outcome is returned.
    """
    days = sorted(rate_sets, key=lambda s: s.date)
    rows = [(s.date, currency, *s.rates[currency]) for s in days for currency in sorted(s.rates)]
    result = StoreResult()
    with transaction.atomic():
        for on, currency, buy, sell in rows:
            result.outcomes.append(
                fx_rate_store(
                    currency=currency, on=on, buy=buy, sell=sell, source=source, by=by, note=note
                )
            )
    return result


def fx_rate_decide(*, rate_id: int, approve: bool, by: RateWriter) -> FxRate:
    """A platform admin's decision on a rate held by the move guard (rules.md §10): approved,
    it is active (used from now on); rejected, it is never used. A rate not held is refused
    (``RateNotHeld``); the decision is announced (``rate_decided``) for the audit trail."""
    with transaction.atomic():
        rate = FxRate.objects.select_for_update().filter(pk=rate_id).first()
        if rate is None:
            raise RateNotFound(f"No rate with id {rate_id}.")
        if rate.status != FxRate.Status.HELD:
            raise RateNotHeld(
                f"The {rate.source} {rate.currency} rate of {rate.date.isoformat()} is "
                f"{rate.status}: only a rate held for review can be approved or rejected.",
                status=rate.status,
            )
        rate.status = FxRate.Status.ACTIVE if approve else FxRate.Status.REJECTED
        rate.save(update_fields=["status"])
        rate_decided.send(sender=FxRate, rate=rate, by=by, approved=approve)
    logger.info("FX %s: %s by %s", rate, rate.status, by.actor or by.how)
    return rate


def fx_held_decide(*, rate_ids, approve: bool, by: RateWriter) -> list[FxRate]:
    """``fx_rate_decide`` for each held rate of ``rate_ids`` (the admin's actions), in one
    transaction; rates not held are left as they are. Returns the rates decided."""
    decided = []
    with transaction.atomic():
        held = FxRate.objects.filter(pk__in=rate_ids, status=FxRate.Status.HELD)
        for pk in held.order_by("pk").values_list("pk", flat=True):
            try:
                decided.append(fx_rate_decide(rate_id=pk, approve=approve, by=by))
            except RateNotHeld:  # decided by someone else meanwhile
                continue
    return decided


def fx_refresh(*, provider: str | FxProvider) -> FxRefreshLog:
    """Fetch one provider and store its rates; always leaves an ``FxRefreshLog`` row.

    A failing fetch (HTTP error, timeout of the whole answer, malformed body, missing
    currency, zero or negative rate, no USD/PKR to cross through, a rate dated in the future
    or too old: rules.md §10) stores nothing; the log row says why and whether the failure is
    transient (``retryable``). Rates held by the move guard are counted and named in the log
    row (and audited as every written rate is). Never raises for a feed problem: the caller
    (the Celery task) decides on retries.
    """
    if isinstance(provider, str):
        provider = provider_named(provider)
    log = FxRefreshLog.objects.create(provider=provider.name)
    try:
        rate_sets = provider.fetch()
        _refuse_unusable(provider, rate_sets)
        stored = fx_rates_store(source=provider.source, rate_sets=rate_sets, by=FEED)
    except FxFeedError as exc:
        log.ok = False
        log.retryable = isinstance(exc, FxFeedUnavailable)
        log.message = exc.message
        level = logging.WARNING if log.retryable else logging.ERROR
        logger.log(level, "FX refresh %s stored nothing: %s", provider.name, exc.message)
    except Exception as exc:  # a bug, not a feed problem: record it, then let it surface
        log.ok, log.message = False, f"Unexpected error, nothing stored: {exc!r}"[:2000]
        raise
    else:
        log.ok = True
        log.rate_date = max((s.date for s in rate_sets), default=None)
        log.created, log.updated = stored.created, stored.updated
        log.unchanged, log.held = stored.unchanged, stored.held
        held = [f"{o.currency} {o.date.isoformat()} {o.message}" for o in stored.held_outcomes]
        log.message = " ".join([*held, *(c.message for c in stored.conflicts)])
        logger.info(
            "FX refresh %s %s: %d new (%d held), %d updated, %d unchanged, %d conflicts",
            provider.name,
            log.rate_date,
            log.created,
            log.held,
            log.updated,
            log.unchanged,
            len(stored.conflicts),
        )
    finally:
        log.finished_at = timezone.now()
        log.save()
    return log


def _refuse_unusable(provider: FxProvider, rate_sets: list[RateSet]) -> None:
    """A fetched rate that could not be stored makes the whole payload unusable: its figures,
    or its date (a feed writes nothing dated in the future or too old, rules.md §10)."""
    today = timezone.localdate()
    for rate_set in rate_sets:
        if problem := feed_date_error(rate_set.date, today=today):
            raise FxFeedInvalid(f"{provider.name} gives rates dated {rate_set.date}: {problem}")
        for currency, pair in sorted(rate_set.rates.items()):
            for value in pair:
                if problem := rate_error(value):
                    raise FxFeedInvalid(
                        f"{provider.name} gives {currency} {rate_set.date.isoformat()} "
                        f"at {value}: {problem}"
                    )


@dataclass
class CsvImportReport:
    source: str
    dry_run: bool
    lines: list[tuple[int, str, str]] = field(default_factory=list)  # (line, outcome, message)

    def count(self, outcome: str) -> int:
        return sum(1 for _, o, _ in self.lines if o == outcome)

    @property
    def ok(self) -> bool:
        return not any(o in ("error", "conflict") for _, o, _ in self.lines)


IMPORTABLE_SOURCES = (FxRate.Source.SBP_WACR, FxRate.Source.MANUAL)


def fx_import_csv(
    *, text: str, by: RateWriter, source: str = FxRate.Source.SBP_WACR, dry_run: bool = False
) -> CsvImportReport:
    """Import dated rates from CSV (``date,currency,buy,sell``), one outcome per line.

    Good lines are stored (through the guard, idempotently, each one audited as written
    ``by`` the person who uploaded it); bad lines are reported and skipped, so a corrected
    file can simply be uploaded again. ``dry_run`` does everything, reports, and rolls back.
    """
    if source not in IMPORTABLE_SOURCES:
        raise FxFeedInvalid(f"CSV imports are for {', '.join(IMPORTABLE_SOURCES)}, not {source}.")
    report = CsvImportReport(source=source, dry_run=dry_run)
    parsed = parse_rates_csv(text, source=source)
    report.lines.extend((line, "error", message) for line, message in parsed.errors)
    line_of = {(r.date, r.currency): r.line for r in parsed.rows}
    by_day: dict[date, dict] = {}
    for row in parsed.rows:
        by_day.setdefault(row.date, {})[row.currency] = (row.buy, row.sell)
    with transaction.atomic():
        stored = fx_rates_store(
            source=source,
            rate_sets=[RateSet(date=d, rates=r) for d, r in by_day.items()],
            by=by,
            note="CSV import",
        )
        if dry_run:
            transaction.set_rollback(True)
        else:
            FxRefreshLog.objects.create(
                provider=f"csv:{source}",
                finished_at=timezone.now(),
                ok=not parsed.errors and not stored.conflicts,
                rate_date=max(by_day, default=None),
                created=stored.created,
                updated=stored.updated,
                unchanged=stored.unchanged,
                held=stored.held,
                message=f"{len(parsed.errors)} bad lines, {len(stored.conflicts)} conflicts",
            )
    for outcome in stored.outcomes:
        line = line_of[(outcome.date, outcome.currency)]
        report.lines.append((line, outcome.outcome, outcome.message))
    report.lines.sort()
    return report
