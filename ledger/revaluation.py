"""Revaluation of ESFCA balances: PKR value at the latest rate against PKR cost (average cost).

As ERPNext's exchange-rate revaluation does it, per account:

- walk the account's entries in (value date, transaction id, entry id) order;
- an inflow (debit) adds its amount and its PKR cost = amount × rate, where the
  rate is the transaction's own ``fx_rate`` for a receipt (the bank's rate it
  was converted at), and otherwise the buying rate of its value date from the
  rate table (``ledger.fx.selectors.fx_rate_for``: that exact day, best source);
- an outflow (credit) removes its amount at the running average cost, i.e.
  cost × amount / balance;
- everything inside is an exact ``Fraction``; the PKR cost is rounded half up
  to the paisa once, at the end (rules.md §1);
- the value is balance × the latest active buying rate on or before ``on``
  (flagged stale when older than ``FX_STALE_WORKING_DAYS`` working days),
  rounded half up; the unrealised gain (negative: loss) is value − cost.

Read-only: nothing is posted. The dashboard and the monthly summary call it.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledger.errors import FxRateMissing
from ledger.fx.arith import CENT_PLACES, round_half_up
from ledger.fx.selectors import buying_rates_many, fx_rate_for, latest_rate
from ledger.models import Account, Entry, Transaction


@dataclass(frozen=True)
class Revaluation:
    account_id: int
    currency: str
    on: date
    balance: Decimal
    pkr_cost: Decimal
    rate: Decimal | None  # latest buying rate; None when the table has none
    rate_date: date | None
    rate_source: str
    stale: bool
    pkr_value: Decimal | None
    unrealised_gain: Decimal | None


def _cost_rate(txn: Transaction, currency: str, cache: dict) -> Decimal:
    if txn.kind == Transaction.Kind.RECEIPT and txn.fx_rate is not None:
        return txn.fx_rate
    key = (currency, txn.value_date)
    if key not in cache:
        cache[key] = fx_rate_for(currency=currency, on=txn.value_date).buy
    return cache[key]


def _revalue(account: Account, entries, on: date, cache: dict) -> Revaluation:
    balance = Fraction(0)
    cost = Fraction(0)
    for entry in entries:
        if entry.debit:
            amount = Fraction(entry.debit)
            cost += amount * Fraction(_cost_rate(entry.transaction, account.currency, cache))
            balance += amount
        else:
            amount = Fraction(entry.credit)
            cost -= cost * amount / balance if balance else 0
            balance -= amount
    pkr_cost = round_half_up(cost, CENT_PLACES)
    money_balance = round_half_up(balance, CENT_PLACES)  # entries have 2 places: exact
    try:
        key = ("latest", account.currency)
        if key not in cache:
            cache[key] = latest_rate(currency=account.currency, on_or_before=on)
        latest = cache[key]
    except FxRateMissing:
        return Revaluation(
            account.pk, account.currency, on, money_balance, pkr_cost, None, None, "", False,
            None, None,
        )  # fmt: skip
    value = round_half_up(balance * Fraction(latest.buy), CENT_PLACES)
    return Revaluation(
        account_id=account.pk,
        currency=account.currency,
        on=on,
        balance=money_balance,
        pkr_cost=pkr_cost,
        rate=latest.buy,
        rate_date=latest.date,
        rate_source=latest.rate.source if latest.rate else "",
        stale=latest.stale,
        pkr_value=value,
        unrealised_gain=value - pkr_cost,
    )


def _entries_by_account(account_ids, on: date) -> dict[int, list[Entry]]:
    grouped: dict[int, list[Entry]] = defaultdict(list)
    rows = (
        Entry.objects.filter(account_id__in=account_ids, transaction__value_date__lte=on)
        .select_related("transaction")
        .order_by("account_id", "transaction__value_date", "transaction_id", "id")
    )
    for entry in rows:
        grouped[entry.account_id].append(entry)
    return grouped


def revaluation_for_account(account: Account, *, on: date) -> Revaluation:
    """Revalue one ESFCA as of ``on`` (entries with value date ≤ ``on``).

    A non-receipt inflow on a day without a rate raises ``FxRateMissing``.
    """
    if account.kind != Account.Kind.ESFCA:
        raise ValueError(f"Only ESFCA accounts are revalued, not {account.kind}.")
    entries = _entries_by_account([account.pk], on)[account.pk]
    return _revalue(account, entries, on, {})


def _cost_rates(accounts, grouped) -> dict:
    """The table's buying rates every inflow without its own rate needs, in one query
    (a pair the table lacks is left out: ``_cost_rate`` asks for it and refuses)."""
    wanted = {
        (a.currency, e.transaction.value_date)
        for a in accounts
        for e in grouped[a.pk]
        if e.debit
        and not (e.transaction.kind == Transaction.Kind.RECEIPT and e.transaction.fx_rate)
    }
    if not wanted:
        return {}
    return buying_rates_many(currencies={c for c, _ in wanted}, days={d for _, d in wanted})


def revaluation_for_firm(firm_id: int, *, on: date) -> list[Revaluation]:
    """Revalue every ESFCA of a firm as of ``on``, in account id order (one entry query,
    one query for the rates of the inflows, two per currency for its latest rate)."""
    accounts = list(Account.objects.filter(owner_id=firm_id, kind=Account.Kind.ESFCA))
    grouped = _entries_by_account([a.pk for a in accounts], on)
    cache: dict = _cost_rates(accounts, grouped)
    return [_revalue(a, grouped[a.pk], on, cache) for a in accounts]
