"""Reversing and correcting movements (rules.md §9): nothing is edited, everything can be
reversed.

A reversal is a movement of its original's kind (in that kind's list and id space) with its
own reference, the original's figures and value date, a reason, a link to the original
(``reverses``), and a ledger transaction that exactly negates the original's
(``transaction_reverse``). It goes through the frame every movement shares
(``movements.movement_record``): idempotent by reference, under the firm's lock, audited.

A correction reverses and records the corrected movement in one atomic step; the new one
points at the original (``corrects``) and is judged without it (a corrected receipt leaves
the original out of its month). Its funds check is on the combined effect: the reversal is
posted first, so that the new one's own check sees the funds it gives back (a conversion of
90 replacing one of 100 when 10 is left); when the reversal alone would take a bank account
below zero that the new one refills (a receipt whose funds were spent since), the new one is
posted first instead. Either way every bank account either touches must then stay at or
above zero at every end of day from the earlier value date on.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from djmoney.money import Money

from exporters.models import Firm
from ledger.errors import InsufficientFunds
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from ledger.posting import transaction_reverse

from ..errors import DuplicateReference, InvalidInput, InvalidState, MovementNotFound
from ..models import Allocation, Conversion, Receipt, Transfer
from .allocations import allocation_create
from .checks import FieldErrors, check_reference, check_text, local_today
from .conversions import conversion_create, transfer_create
from .days import line_of, receipt_days_add
from .movements import check_covered, movement_fields, movement_record, request_fingerprint
from .receipts import ReceiptRequest, receipt_record, receipt_request_record

ZERO = Decimal("0.00")
# What a reversal does not copy from its original: its own identity, request and links.
OWN_FIELDS = frozenset(
    {
        "id",
        "reference",
        "request_fingerprint",
        "transaction",
        "created_by",
        "created_at",
        "reverses",
        "reason",
        "corrects",
    }
)


def _receipt_again(*, firm, actor, original, today, fields):
    # Judged without the receipt it replaces: that one leaves its month's P and already.
    request = ReceiptRequest(**fields)
    return receipt_request_record(
        firm=firm, actor=actor, request=request, today=today, replacing=original
    )


def _created_by(create: Callable) -> Callable:
    def again(*, firm, actor, original, today, fields):
        return create(firm=firm, actor=actor, today=today, **fields)

    return again


@dataclass(frozen=True)
class MovementKind:
    """One kind of movement as reversals see it: its model, its own create service (whose
    keyword arguments a correction's body holds), and how a correction records it again."""

    model: type
    create: Callable
    again: Callable


KINDS = {
    "receipt": MovementKind(Receipt, receipt_record, _receipt_again),
    "allocation": MovementKind(Allocation, allocation_create, _created_by(allocation_create)),
    "conversion": MovementKind(Conversion, conversion_create, _created_by(conversion_create)),
    "transfer": MovementKind(Transfer, transfer_create, _created_by(transfer_create)),
}


def movement_kind(kind: str) -> MovementKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidInput(kind=[f"Use one of {', '.join(KINDS)}."]) from None


def _reason_errors(reference, reason) -> FieldErrors:
    errors = FieldErrors()
    check_reference(errors, reference)
    check_text(errors, "reason", reason if isinstance(reason, str) else "", limit=2000)
    return errors


def _corrected_errors(errors: FieldErrors, create: Callable, corrected) -> None:
    """The corrected body holds the kind's own create arguments, no more, none missing."""
    if not isinstance(corrected, dict):
        errors.add("corrected", "Give the corrected movement's fields.")
        return
    params = inspect.signature(create).parameters
    names = set(params) - {"firm", "actor", "today"}
    for name in sorted(set(corrected) - names):
        errors.add(name, "Unknown field.")
    for name in sorted(names - set(corrected)):
        if params[name].default is inspect.Parameter.empty:
            errors.add(name, "This field is required.")


def _original(spec: MovementKind, firm: Firm, movement_id: int):
    """The firm's movement, under the firm's lock: reversible once, never a reversal."""
    original = (
        spec.model.objects.filter(firm=firm, pk=movement_id).select_related("transaction").first()
    )
    if original is None:
        raise MovementNotFound(movement=movement_id)
    if original.reverses_id is not None:
        raise InvalidState(
            f"{original.reference} is itself a reversal; record the movement again instead.",
            movement=original.pk,
        )
    reversal = spec.model.objects.filter(reverses=original).only("pk", "reference").first()
    if reversal is not None:
        raise InvalidState(
            f"{original.reference} was already reversed by {reversal.reference}.",
            movement=original.pk,
            reversed_by=reversal.pk,
        )
    return original


def _bank_accounts(txn: LedgerTransaction) -> dict[Account, Decimal]:
    """The non-negative (bank-held, debit-normal) accounts ``txn`` touches, with what it
    added to each."""
    moved: dict[Account, Decimal] = {}
    for entry in txn.entries.select_related("account"):
        if entry.account.non_negative:
            moved[entry.account] = moved.get(entry.account, ZERO) + entry.debit - entry.credit
    return moved


def _reversal_write(spec, firm: Firm, actor, original, *, reference, fingerprint, reason):
    """Post the exact negation of the original's transaction, dated the original's value
    date, and write the reversal: a movement of the original's kind with its figures."""
    txn = transaction_reverse(
        original=original.transaction,
        key=f"{original.transaction.kind}:{firm.pk}:{reference}",
        value_date=original.value_date,
        memo=f"Reversal of {original.reference}: {reason}"[:500],
    )
    copied = {
        field.attname: getattr(original, field.attname)
        for field in spec.model._meta.concrete_fields
        if field.name not in OWN_FIELDS
    }
    copied = {k: v.amount if isinstance(v, Money) else v for k, v in copied.items()}
    copied.update(
        movement_fields(firm, reference, original.value_date, fingerprint, txn, actor),
        reverses=original,
        reason=reason,
    )
    reversal = spec.model.objects.create(**copied)
    if isinstance(original, Receipt):  # it leaves its day's sums (§9)
        receipt_days_add(firm, [line_of(original)], sign=-1)
    return reversal


def movement_reverse(
    *,
    firm: Firm,
    actor,
    kind: str,
    movement_id: int,
    reference: str,
    reason: str,
    today: date | None = None,
):
    """Reverse a receipt, allocation, conversion or transfer (rules.md §9).

    Idempotent by ``reference`` (the same request again returns the stored reversal). A
    reason is required (``validation_error``); another firm's movement is not found; a
    movement already reversed, or a reversal, is ``invalid_state``; the reversal is refused
    (``insufficient_funds``) if an account would be negative at any end of day from the
    original's value date on. ``today`` is taken as by every movement service; a reversal
    is dated its original's value date, so no date of its own is judged. Returns
    ``(reversal, created)``.
    """
    spec = movement_kind(kind)
    fingerprint = request_fingerprint(
        action="reverse", kind=kind, movement=movement_id, reference=reference, reason=reason
    )

    def write(locked: Firm):
        original = _original(spec, locked, movement_id)
        for account, added in _bank_accounts(original.transaction).items():
            if added > 0:
                check_covered(account, added, original.value_date)
        return _reversal_write(
            spec, locked, actor, original, reference=reference, fingerprint=fingerprint,
            reason=reason,
        )  # fmt: skip

    return movement_record(
        spec.model,
        firm=firm,
        actor=actor,
        action=f"{kind}_reversed",
        reference=reference,
        fingerprint=fingerprint,
        check=_reason_errors(reference, reason).raise_if_any,
        write=write,
        details=lambda reversal: {"reason": reason, "reverses": reversal.reverses_id},
    )


def _in_order(first: Callable, second: Callable) -> tuple:
    with transaction.atomic():  # a savepoint: a refusal of either leaves neither
        return first(), second()


def _correct_write(spec, firm: Firm, actor, *, movement_id, reference, fingerprint, reason,
                   corrected: dict, today: date):  # fmt: skip
    """Reverse and record again under the firm's lock; the combined effect must leave every
    bank account touched at or above zero on every day from the earlier value date on."""
    original = _original(spec, firm, movement_id)

    def reverse():
        return _reversal_write(
            spec, firm, actor, original, reference=reference, fingerprint=fingerprint,
            reason=reason,
        )  # fmt: skip

    def again():
        new, created = spec.again(
            firm=firm, actor=actor, original=original, today=today, fields=corrected
        )
        if not created:
            raise DuplicateReference(
                f"Reference {new.reference} is already recorded; the corrected movement "
                "needs a new reference.",
                reference=new.reference,
                existing_id=new.pk,
            )
        return new

    try:
        reversal, new = _in_order(reverse, again)
    except InsufficientFunds:
        # The reversal alone took a bank account below zero that the new one refills (funds
        # spent since): the other order, the new one first, then the reversal.
        new, reversal = _in_order(again, reverse)
    since = min(original.value_date, new.value_date)
    touched = {**_bank_accounts(reversal.transaction), **_bank_accounts(new.transaction)}
    for account in sorted(touched, key=lambda a: a.pk):
        check_covered(account, ZERO, since)
    spec.model.objects.filter(pk=new.pk).update(corrects=original, reason=reason)
    return reversal


def movement_correct(
    *,
    firm: Firm,
    actor,
    kind: str,
    movement_id: int,
    reference: str,
    reason: str,
    corrected: dict,
    today: date | None = None,
):
    """Correct a movement (rules.md §9): reverse it and record ``corrected`` (the kind's
    own create arguments, with a new reference) in one atomic step, both or neither; any
    refusal of either is the answer. Idempotent by the reversal's ``reference``. Returns
    ``(reversal, new_movement, created)``."""
    spec = movement_kind(kind)
    today = today or local_today()
    body = corrected if isinstance(corrected, dict) else {}
    fingerprint = request_fingerprint(
        action="correct", kind=kind, movement=movement_id, reference=reference, reason=reason,
        corrected=request_fingerprint(**body),
    )  # fmt: skip

    def check() -> None:
        errors = _reason_errors(reference, reason)
        _corrected_errors(errors, spec.create, corrected)
        errors.raise_if_any()

    def write(locked: Firm):
        return _correct_write(
            spec, locked, actor, movement_id=movement_id, reference=reference,
            fingerprint=fingerprint, reason=reason, corrected=body, today=today,
        )  # fmt: skip

    reversal, created = movement_record(
        spec.model,
        firm=firm,
        actor=actor,
        action=f"{kind}_corrected",
        reference=reference,
        fingerprint=fingerprint,
        check=check,
        write=write,
        details=lambda reversal: {
            "reason": reason,
            "reverses": reversal.reverses_id,
            "corrected_into": reversal.reverses.corrected_into.pk,
        },
    )
    return reversal, reversal.reverses.corrected_into, created
