"""Writes of the rate table: every rate is stored by ``fx_rate_store``, whoever brings it.

The API (a rate posted by a person), the admin (a rate typed in, a CSV uploaded), the
``fx_import_csv`` command and the feeds all store through that one function, with the same
validation (``arith.rate_error``: positive, 6 places, below ``MAX_RATE``). What differs
between them is a parameter. Rules (design.md "FX rates"; rules.md §1: Decimal only):

- **One rate per key.** A rate is keyed by (currency, date, source). A rate posted
  through the API refuses a second one for its key (``DuplicateRate``): a published rate
  is never silently replaced. The feeds, imports and the admin reconcile instead:
- **Idempotent.** Storing the same figures again changes nothing.
- **Active rates never change silently.** Different figures for a key whose
  row is *active* are a conflict: reported and logged, not applied (an admin
  decides). A row that is *held* or *rejected* has never been used, so new
  figures replace it in place and go through the guard again.
- **Move guard.** A new rate whose buy or sell moves more than
  ``FX_GUARD_MAX_MOVE_PCT`` percent from the last *active* rate of the same
  source and currency (the latest dated before it) is stored *held*: shown in
  the admin for approval, never used by the selectors. A rate posted through the
  API is stored active at once (its poster has the authority to publish rates).
- **All or nothing per fetch.** A provider's whole payload is validated first;
  on any failure nothing is stored and an ``FxRefreshLog`` row says why.

The guard of rules.md §10 (every new rate, compared across sources) replaces the one
above where it is decided: ``fx_guard_check`` and the ``guard`` parameter of
``fx_rate_store``.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.errors import InvalidPosting
from ledger.models import FxRate, FxRefreshLog

from .arith import move_pct, rate_error, round_half_up
from .errors import DuplicateRate, FxFeedError, FxFeedInvalid, FxFeedUnavailable
from .providers import FxProvider, RateSet, parse_rates_csv, provider_named

logger = logging.getLogger(__name__)


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
    def held(self) -> int:
        """New or replaced rates that landed held for review."""
        return sum(
            1
            for o in self.outcomes
            if o.outcome in ("held", "updated") and o.rate.status == FxRate.Status.HELD
        )

    @property
    def conflicts(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.outcome == "conflict"]


def fx_guard_check(
    *, source: str, currency: str, on: date, buy: Decimal, sell: Decimal
) -> tuple[str, str]:
    """The status a new rate gets, and why: held when it moves too far from the last active one."""
    limit = Decimal(str(settings.FX_GUARD_MAX_MOVE_PCT))
    last = (
        FxRate.objects.filter(
            source=source, currency=currency, status=FxRate.Status.ACTIVE, date__lt=on
        )
        .order_by("-date")
        .first()
    )
    if last is None:
        return FxRate.Status.ACTIVE, ""
    for side, old, new in (("buy", last.buy, buy), ("sell", last.sell, sell)):
        moved = move_pct(old, new)
        if moved > limit:
            return (
                FxRate.Status.HELD,
                f"Held: {side} {new} moved {round_half_up(moved, 2)}% from {old} of "
                f"{last.date.isoformat()} (limit {limit}%).",
            )
    return FxRate.Status.ACTIVE, ""


def fx_rate_store(
    *,
    currency: str,
    on: date,
    buy: Decimal,
    sell: Decimal,
    source: str,
    note: str = "",
    refuse_existing: bool = False,
    guard: bool = True,
) -> RowOutcome:
    """Store one rate (PKR per unit): the only way a rate gets into the table.

    Invalid figures or source raise ``InvalidPosting`` with the field errors. A rate
    already stored for (currency, date, source) raises ``DuplicateRate`` when
    ``refuse_existing`` (the API), and is otherwise reconciled: unchanged, a conflict, or
    replaced when it was never used (see the module docstring). ``guard`` puts a new rate
    through the move guard; without it a new rate is active at once.
    """
    _refuse_invalid(buy=buy, sell=sell, source=source)
    try:
        with transaction.atomic():
            existing = (
                FxRate.objects.select_for_update()
                .filter(source=source, currency=currency, date=on)
                .first()
            )
            if existing is None:
                outcome = _create(source, currency, on, buy, sell, note, guard)
            elif not refuse_existing:
                outcome = _store_again(existing, buy, sell, note, guard)
            else:
                raise _duplicate(source, currency, on)
    except IntegrityError as exc:  # a concurrent writer stored the same key first
        raise _duplicate(source, currency, on) from exc
    if outcome.outcome == "held":
        logger.warning("FX %s: %s %s %s", source, currency, on.isoformat(), outcome.message)
    elif outcome.outcome == "conflict":
        logger.warning("FX %s: %s", source, outcome.message)
    return outcome


def _refuse_invalid(*, buy, sell, source) -> None:
    errors: dict[str, list[str]] = {}
    for side, value in (("buy", buy), ("sell", sell)):
        if problem := rate_error(value):
            errors[side] = [problem]
    if source not in FxRate.Source.values:
        errors["source"] = [f"Use one of {', '.join(FxRate.Source.values)}."]
    if errors:
        raise InvalidPosting("Some fields are invalid.", **errors)


def _duplicate(source: str, currency: str, on: date) -> DuplicateRate:
    return DuplicateRate(
        f"A {source} rate for {currency} on {on.isoformat()} already exists.",
        currency=currency,
        date=on.isoformat(),
        source=source,
    )


def _status(guard: bool, source, currency, on, buy, sell) -> tuple[str, str]:
    if not guard:
        return FxRate.Status.ACTIVE, ""
    return fx_guard_check(source=source, currency=currency, on=on, buy=buy, sell=sell)


def _create(source, currency, on, buy, sell, note, guard) -> RowOutcome:
    status, why = _status(guard, source, currency, on, buy, sell)
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


def _store_again(existing: FxRate, buy, sell, note, guard) -> RowOutcome:
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
    status, why = _status(guard, existing.source, currency, on, buy, sell)
    existing.buy, existing.sell, existing.status = buy, sell, status
    existing.note = (why or note)[:300]
    existing.save(update_fields=["buy", "sell", "status", "note"])
    return RowOutcome(currency, on, "updated", why, rate=existing)


def fx_rates_store(*, source: str, rate_sets: list[RateSet], note: str = "") -> StoreResult:
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
                    currency=currency, on=on, buy=buy, sell=sell, source=source, note=note
                )
            )
    return result


def fx_held_decide(*, rate_ids, approve: bool) -> int:
    """A platform admin's decision on rates held by the move guard: approved ones become
    active (used from now on), rejected ones are never used. Rates not held are left as
    they are. Returns how many were decided."""
    status = FxRate.Status.ACTIVE if approve else FxRate.Status.REJECTED
    held = FxRate.objects.filter(pk__in=rate_ids, status=FxRate.Status.HELD)
    return held.update(status=status)


def fx_refresh(*, provider: str | FxProvider) -> FxRefreshLog:
    """Fetch one provider and store its rates; always leaves an ``FxRefreshLog`` row.

    A failing fetch (HTTP error, timeout, malformed body, missing currency,
    zero or negative rate, no USD/PKR to cross through) stores nothing; the log
    row says why and whether the failure is transient (``retryable``). Never
    raises for a feed problem: the caller (the Celery task) decides on retries.
    """
    if isinstance(provider, str):
        provider = provider_named(provider)
    log = FxRefreshLog.objects.create(provider=provider.name)
    try:
        rate_sets = provider.fetch()
        _refuse_unusable(provider, rate_sets)
        stored = fx_rates_store(source=provider.source, rate_sets=rate_sets)
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
        log.message = " ".join(c.message for c in stored.conflicts)
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
    """A fetched rate that could not be stored makes the whole payload unusable."""
    for rate_set in rate_sets:
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
    *, text: str, source: str = FxRate.Source.SBP_WACR, dry_run: bool = False
) -> CsvImportReport:
    """Import dated rates from CSV (``date,currency,buy,sell``), one outcome per line.

    Good lines are stored (through the guard, idempotently); bad lines are
    reported and skipped, so a corrected file can simply be uploaded again.
    ``dry_run`` does everything, reports, and rolls back.
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
