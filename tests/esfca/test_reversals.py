"""movement_reverse and movement_correct: rules.md §9."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from esfca import errors
from esfca.models import Allocation, AuditEvent, Conversion, Receipt, Transfer
from esfca.selectors import allocation_mix, headroom
from esfca.services import (
    conversion_create,
    firm_account_open,
    movement_correct,
    movement_reverse,
    receipt_month,
    receipt_record,
    receipts_record_many,
    transfer_create,
)
from esfca.summaries.figures import summary_compute, summary_detail
from esfca.summaries.services import summary_file
from exporters.errors import DomainError
from exporters.validators import iban_pk
from ledger.errors import InsufficientFunds
from ledger.models import Account, Entry, Transaction
from ledger.selectors import lowest_balance_from
from ledger.verify import ledger_verify
from tests.exporters.factories import BankFactory

from .conftest import esfca_balance, open_firm, set_rate, snapshot
from .test_allocations import allocate, fund

pytestmark = pytest.mark.django_db
DAY = date(2025, 11, 20)
TODAY = date(2025, 11, 30)
NOVEMBER = date(2025, 11, 1)


def balances():
    """Every account's balance (an account a movement opened counts as it was: zero)."""
    return {pk: balance for pk, balance in Account.objects.values_list("pk", "balance") if balance}


def reverse(firm, kind, movement, reference="REV-1", reason="amount typed wrong", **more):
    return movement_reverse(
        firm=firm, actor=None, kind=kind, movement_id=movement.pk, reference=reference,
        reason=reason, today=TODAY, **more,
    )  # fmt: skip


def receipt_fields(reference="R2", amount="18000.00", **overrides):
    fields = {
        "reference": reference,
        "value_date": date(2025, 11, 4),
        "amount": D(amount),
        "currency": "USD",
        "conversion_rate": D("280.7000"),
        "client_name": "Client",
        "client_country": "US",
        "purpose_code": "9184",
    }
    fields.update(overrides)
    return fields


def conversion(firm, amount, reference="CV-1"):
    converted, _ = conversion_create(
        firm=firm, actor=None, reference=reference, value_date=DAY, amount=D(amount),
        currency="USD", rate=D("280.0000"), today=TODAY,
    )  # fmt: skip
    return converted


# --- reversing ------------------------------------------------------------------------------


def test_reversing_a_receipt_restores_every_balance_to_the_cent():
    firm = open_firm()
    before = balances()
    receipt = fund(firm)
    reversal, created = reverse(firm, "receipt", receipt)
    assert created
    assert balances() == before
    assert (reversal.reverses, reversal.reason, reversal.reference) == (
        receipt,
        "amount typed wrong",
        "REV-1",
    )
    assert reversal.value_date == receipt.value_date
    assert (reversal.amount, reversal.retained) == (receipt.amount, receipt.retained)
    assert reversal.transaction.reverses == receipt.transaction
    assert reversal.transaction.kind == Transaction.Kind.REVERSAL
    original = {(e.account_id, e.debit, e.credit) for e in receipt.transaction.entries.all()}
    negated = {(e.account_id, e.credit, e.debit) for e in reversal.transaction.entries.all()}
    assert original == negated
    receipt.refresh_from_db()
    assert receipt.reversed_by == reversal
    # In its kind's list and id space.
    assert list(Receipt.objects.filter(firm=firm).order_by("pk")) == [receipt, reversal]
    assert not Receipt.objects.standing().filter(firm=firm).exists()
    event = AuditEvent.objects.get(action="receipt_reversed")
    assert event.details == {
        "reference": "REV-1",
        "reason": "amount typed wrong",
        "reverses": receipt.pk,
    }
    assert ledger_verify().ok


def test_the_same_reversal_again_is_a_replay_and_another_body_a_duplicate():
    firm = open_firm()
    receipt = fund(firm)
    reversal, _ = reverse(firm, "receipt", receipt)
    before = snapshot()
    again, created = reverse(firm, "receipt", receipt)
    assert (again.pk, created) == (reversal.pk, False)
    with pytest.raises(errors.DuplicateReference):
        reverse(firm, "receipt", receipt, reason="another reason")
    assert snapshot() == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(reason):
    firm = open_firm()
    receipt = fund(firm)
    before = snapshot()
    with pytest.raises(errors.InvalidInput) as refused:
        reverse(firm, "receipt", receipt, reason=reason)
    assert set(refused.value.details) == {"reason"}
    assert snapshot() == before


def test_reversed_once_and_a_reversal_is_not_reversible():
    firm = open_firm()
    receipt = fund(firm)
    reversal, _ = reverse(firm, "receipt", receipt)
    before = snapshot()
    with pytest.raises(errors.InvalidState):
        reverse(firm, "receipt", receipt, reference="REV-2")
    with pytest.raises(errors.InvalidState):
        reverse(firm, "receipt", reversal, reference="REV-3")
    assert snapshot() == before


def test_another_firms_movement_is_not_found():
    firm, other = open_firm(), open_firm()
    receipt = fund(other)
    before = snapshot()
    with pytest.raises(errors.MovementNotFound):
        reverse(firm, "receipt", receipt)
    with pytest.raises(errors.MovementNotFound):
        reverse(other, "allocation", receipt)  # an id of another kind's space
    assert snapshot() == before


def test_reversing_a_receipt_whose_funds_were_spent_since_is_refused():
    firm = open_firm()
    receipt = fund(firm)  # 10,000.00 retained
    allocate(firm, amount=D("9000.00"))
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        reverse(firm, "receipt", receipt)
    assert snapshot() == before


def test_a_backdated_reversal_is_refused_if_any_later_day_would_close_negative():
    """Today's balance covers it, but the funds were spent on a day in between."""
    firm = open_firm()
    receipt = fund(firm, day=date(2025, 11, 4))  # 10,000.00 retained on the 4th
    allocate(firm, amount=D("9000.00"), value_date=date(2025, 11, 10))
    fund(firm, reference="R9", day=date(2025, 11, 25), amount="30000.00")
    assert esfca_balance(firm) > receipt.retained
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        reverse(firm, "receipt", receipt)
    assert snapshot() == before


def test_reversing_an_allocation_gives_the_funds_back():
    firm = open_firm()
    fund(firm)
    allocation, _ = allocate(firm)
    reversal, _ = reverse(firm, "allocation", allocation)
    assert esfca_balance(firm) == D("10000.00")
    assert isinstance(reversal, Allocation) and reversal.category == allocation.category
    assert allocation_mix(firm, since=NOVEMBER, until=TODAY) == []


def test_reversing_conversions_and_transfers():
    firm = open_firm(currencies=("USD", "EUR"))
    set_rate("USD", DAY, "280.0000")
    set_rate("EUR", DAY, "300.0000")
    fund(firm)
    before = balances()
    converted = conversion(firm, "1000.00")
    eur = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="EUR")
    usd = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="USD")
    moved, _ = transfer_create(
        firm=firm, actor=None, reference="TR-1", value_date=DAY, from_account_id=usd.pk,
        to_account_id=eur.pk, amount=D("3000.00"), today=TODAY,
    )  # fmt: skip
    reverse(firm, "transfer", moved, reference="REV-T")
    reverse(firm, "conversion", converted, reference="REV-C")
    assert balances() == before
    assert Conversion.objects.filter(firm=firm).count() == 2
    assert Transfer.objects.filter(firm=firm).count() == 2
    assert not Conversion.objects.standing().filter(firm=firm).exists()


# --- the month's figures leave both out -----------------------------------------------------


def test_a_reversed_receipt_leaves_its_month_and_the_summary():
    firm = open_firm()
    first = fund(firm, amount="4000.00", reference="R1")  # 4,000 retained (the floor)
    fund(firm, amount="10000.00", reference="R3", day=date(2025, 11, 6))
    summary_before = summary_compute(firm=firm, month=NOVEMBER)["currencies"][0]
    reverse(firm, "receipt", first)
    month = receipt_month(firm, date(2025, 11, 30)).so_far()
    assert month.proceeds_usd == D("10000.00")
    figures = summary_compute(firm=firm, month=NOVEMBER)
    usd = figures["currencies"][0]
    assert summary_before["receipts_count"] == 2
    assert (usd["receipts_count"], usd["receipts"]) == (1, "10000.00")
    assert usd["retained"] != summary_before["retained"]
    assert usd["closing"] == usd["ledger_closing"] == str(esfca_balance(firm))
    assert not [f for f in figures["flags"] if f["code"] == "ledger_mismatch"]
    assert headroom(firm, on=date(2025, 11, 30)).proceeds_usd == D("10000.00")


def test_an_import_judges_its_month_without_reversed_receipts():
    firm = open_firm()
    first = fund(firm, amount="4000.00", reference="R1")
    reverse(firm, "receipt", first)
    [row] = receipts_record_many(
        firm=firm, actor=None, rows=[receipt_fields("I-1", "4000.00")], today=TODAY
    )
    assert row.error is None
    # As the month's first receipt again: the USD 5,000 floor allows all of it (tax cap).
    assert row.value("retained") == D("3990.00")


# --- correcting -----------------------------------------------------------------------------


def test_correcting_a_receipt_records_the_new_one_judged_without_the_original():
    firm = open_firm()
    original = fund(firm, amount="4000.00", reference="R1")
    reversal, new, created = movement_correct(
        firm=firm, actor=None, kind="receipt", movement_id=original.pk, reference="REV-1",
        reason="amount typed wrong", corrected=receipt_fields("R1-bis", "4500.00"), today=TODAY,
    )  # fmt: skip
    assert created
    assert reversal.reverses == original
    assert (new.corrects, new.reason) == (original, "amount typed wrong")
    original.refresh_from_db()
    assert original.corrected_into == new
    # Judged as the month's first receipt again: the floor allows it (less the tax cap).
    assert new.retained == D("4488.75")
    assert esfca_balance(firm) == D("4488.75")
    assert {e.action for e in AuditEvent.objects.all()} >= {
        "receipt_recorded",
        "receipt_corrected",
    }
    again = movement_correct(
        firm=firm, actor=None, kind="receipt", movement_id=original.pk, reference="REV-1",
        reason="amount typed wrong", corrected=receipt_fields("R1-bis", "4500.00"), today=TODAY,
    )  # fmt: skip
    assert again == (reversal, new, False)


def test_a_correction_passes_on_the_combined_effect():
    """A conversion of 90 replacing one of 100 when only 10 is left: the new one alone is
    not covered, the two together are."""
    firm = open_firm()
    set_rate("USD", DAY, "280.0000")
    fund(firm, amount="200.00")  # 100.00 retained (less the tax cap)
    retained = esfca_balance(firm)
    original = conversion(firm, retained - D("10.00"))
    assert esfca_balance(firm) == D("10.00")
    _, new, _ = movement_correct(
        firm=firm, actor=None, kind="conversion", movement_id=original.pk, reference="REV-1",
        reason="sold too much",
        corrected={"reference": "CV-2", "value_date": DAY, "amount": retained - D("20.00"),
                   "currency": "USD", "rate": D("280.0000")},
        today=TODAY,
    )  # fmt: skip
    assert esfca_balance(firm) == D("20.00")
    assert new.corrects == original
    assert ledger_verify().ok


def test_a_receipt_correction_whose_funds_were_spent_passes_when_the_new_one_covers_them():
    firm = open_firm()
    original = fund(firm, amount="20000.00")  # 10,000.00 retained
    allocate(firm, amount=D("9000.00"))
    before = snapshot()
    with pytest.raises(InsufficientFunds):  # replaced by one retaining too little
        movement_correct(
            firm=firm, actor=None, kind="receipt", movement_id=original.pk, reference="REV-1",
            reason="retention typed wrong",
            corrected=receipt_fields("R1-bis", "20000.00", retain=D("500.00")), today=TODAY,
        )  # fmt: skip
    assert snapshot() == before
    _, new, _ = movement_correct(
        firm=firm, actor=None, kind="receipt", movement_id=original.pk, reference="REV-1",
        reason="retention typed wrong",
        corrected=receipt_fields("R1-bis", "20000.00", retain=D("9500.00")), today=TODAY,
    )  # fmt: skip
    assert new.retained == D("9500.00")
    assert esfca_balance(firm) == D("500.00")


@pytest.mark.parametrize(
    "corrected",
    [
        receipt_fields("R1-bis", "-5.00"),  # the new one's own validation
        receipt_fields("R1"),  # the original's reference: not a new one
        {**receipt_fields("R1-bis"), "colour": "blue"},  # not a receipt field
        {**receipt_fields("R1-bis"), "currency": "EUR"},  # no EUR ESFCA
    ],
)
def test_any_refusal_of_a_correction_posts_nothing(corrected):
    firm = open_firm()
    original = fund(firm)
    before = snapshot()
    with pytest.raises(errors.EsfcaError):
        movement_correct(
            firm=firm, actor=None, kind="receipt", movement_id=original.pk, reference="REV-1",
            reason="typo", corrected=corrected, today=TODAY,
        )  # fmt: skip
    assert snapshot() == before
    assert Entry.objects.filter(transaction__kind=Transaction.Kind.REVERSAL).count() == 0


def test_receipt_record_of_a_reversals_reference_is_a_duplicate():
    firm = open_firm()
    receipt = fund(firm)
    reverse(firm, "receipt", receipt)
    with pytest.raises(errors.DuplicateReference):
        receipt_record(firm=firm, actor=None, today=TODAY, **receipt_fields("REV-1"))


# --- property: any sequence of records, reversals and corrections keeps the invariants ------

money = st.decimals(min_value=D("1.00"), max_value=D("6000.00"), places=2)
days = st.integers(min_value=1, max_value=28).map(lambda d: date(2025, 11, d))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("receipt"), money, days),
        st.tuples(st.just("allocation"), money, days),
        st.tuples(st.just("conversion"), money, days),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just(None)),
        st.tuples(st.just("correct"), st.integers(0, 30), money),
    ),
    min_size=1,
    max_size=12,
)


def record(firm, kind: str, n: int, amount: D, day: date):
    if kind == "receipt":
        return receipt_record(
            firm=firm, actor=None, today=TODAY,
            **receipt_fields(f"P-{n}", str(amount), value_date=day),
        )[0]  # fmt: skip
    if kind == "allocation":
        return allocate(firm, reference=f"P-{n}", amount=amount, value_date=day)[0]
    return conversion_create(
        firm=firm, actor=None, reference=f"P-{n}", value_date=day, amount=amount,
        currency="USD", rate=D("280.0000"), today=TODAY,
    )[0]  # fmt: skip


def corrected_body(movement, n: int, amount: D) -> dict:
    """The movement's own create arguments again, with a new reference and amount."""
    if isinstance(movement, Receipt):
        return receipt_fields(f"P-{n}", str(amount), value_date=movement.value_date)
    if isinstance(movement, Allocation):
        return {
            "reference": f"P-{n}", "value_date": movement.value_date, "amount": amount,
            "category": movement.category, "currency": "USD",
            "payee_name": movement.payee_name, "payee_country": movement.payee_country,
        }  # fmt: skip
    return {"reference": f"P-{n}", "value_date": movement.value_date, "amount": amount,
            "currency": "USD", "rate": D("280.0000")}  # fmt: skip


def step(firm, n: int, op: tuple, recorded: list):
    kind, first, second = op
    if kind in ("receipt", "allocation", "conversion"):
        recorded.append(record(firm, kind, n, first, second))
        return
    movement = recorded[first % len(recorded)]
    name = type(movement).__name__.lower()
    if kind == "reverse":
        reversal, _ = reverse(firm, name, movement, reference=f"P-{n}")
        recorded.append(reversal)
    else:
        reversal, new, _ = movement_correct(
            firm=firm, actor=None, kind=name, movement_id=movement.pk, reference=f"P-{n}",
            reason="property", corrected=corrected_body(movement, n + 1000, second), today=TODAY,
        )  # fmt: skip
        recorded += [reversal, new]


def assert_invariants(firm):
    for account in Account.objects.filter(owner=firm):
        sums = Entry.objects.filter(account=account).aggregate(d=Sum("debit"), c=Sum("credit"))
        signed = (sums["d"] or 0) - (sums["c"] or 0)
        assert account.balance == (signed if account.normal_side == "debit" else -signed)
        if account.non_negative:
            assert lowest_balance_from(account_id=account.pk, on=NOVEMBER) >= 0


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=steps)
def test_random_records_reversals_and_corrections_keep_every_invariant(ops):
    with transaction.atomic():  # each example starts from a new firm, rolled back after
        firm = open_firm()
        recorded: list = [record(firm, "receipt", -1, D("20000.00"), NOVEMBER)]
        for n, op in enumerate(ops):
            before = snapshot()
            try:
                step(firm, n, op, recorded)
            except DomainError as refused:
                event(f"{op[0]} refused: {refused.code}")
                assert snapshot() == before
            else:
                event(f"{op[0]} done")
            assert_invariants(firm)
        report = ledger_verify()
        assert report.ok, report.problems
        figures = summary_compute(firm=firm, month=NOVEMBER)
        assert not [f for f in figures["flags"] if f["code"] == "ledger_mismatch"], figures
        standing = Receipt.objects.standing().filter(firm=firm)
        usd = figures["currencies"][0]
        assert usd["receipts_count"] == standing.count()
        transaction.set_rollback(True)


def test_a_reversal_in_a_filed_month_flags_it_changed_after_filing(officer):
    firm = open_firm()
    receipt = fund(firm)
    fund(firm, amount="1000.00", reference="R2", day=date(2025, 11, 5))
    summary_file(firm=firm, month=NOVEMBER, actor=officer)
    reverse(firm, "receipt", receipt)
    codes = {f["code"] for f in summary_detail(firm=firm, month=NOVEMBER)["flags"]}
    assert "changed_after_filing" in codes


def test_a_transfer_correction_refills_the_target_whose_funds_were_spent():
    """The reversal alone would take the target ESFCA below zero; the corrected transfer
    puts enough back, so the correction passes (posted the new one first)."""
    firm = open_firm()
    bank = BankFactory()
    target = firm_account_open(firm=firm, bank=bank, currency="USD", iban=iban_pk(bank.code, 7))
    source = Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA).exclude(pk=target.pk).get()
    fund(firm)  # 10,000.00 retained in the source
    moved, _ = transfer_create(
        firm=firm, actor=None, reference="TR-1", value_date=DAY, from_account_id=source.pk,
        to_account_id=target.pk, amount=D("1000.00"), today=TODAY,
    )  # fmt: skip
    allocate(firm, amount=D("950.00"), bank=bank.code)  # 50.00 left in the target

    def correct(amount: str):
        return movement_correct(
            firm=firm, actor=None, kind="transfer", movement_id=moved.pk, reference="REV-1",
            reason="amount typed wrong", today=TODAY,
            corrected={"reference": "TR-2", "value_date": DAY, "from_account_id": source.pk,
                       "to_account_id": target.pk, "amount": D(amount)},
        )  # fmt: skip

    before = snapshot()
    with pytest.raises(InsufficientFunds):
        correct("900.00")  # 50 - 1,000 + 900 < 0
    assert snapshot() == before
    _, new, _ = correct("980.00")
    target.refresh_from_db()
    source.refresh_from_db()
    assert (target.balance, source.balance) == (D("30.00"), D("9020.00"))
    assert new.corrects == moved
