"""Writes of the ESFCA rules: one atomic, idempotent function per business action.

The package's modules, by what they do:

- ``checks``: the field checks every request starts with;
- ``movements``: the frame every movement shares (fingerprint, replay, the firm's lock,
  record once, audit) and the firm's accounts;
- ``rules``: the rule versions and reference rates in force for a firm on a day;
- ``receipts``: a receipt's request, its one judgement (``receipt_judge``), recording one;
- ``allocations``, ``conversions`` (and transfers), ``accounts``;
- ``reversals``: reversing and correcting any of those movements (rules.md §9);
- the import path: ``batch`` (many rows in one transaction), ``copy_rows`` (their rows by
  ``COPY``), ``chunks`` (chunks judged ahead of the lock while a writer commits).
"""

from ..audit import audit
from .accounts import firm_account_open
from .allocations import allocation_create
from .batch import RowOutcome, receipts_record_many
from .checks import MAX_AMOUNT, foreign_currencies, local_today
from .chunks import ChunkOutcome, receipts_check_chunks, receipts_record_chunks
from .conversions import conversion_create, transfer_create
from .movements import lock_firm, request_fingerprint
from .receipts import (
    Judgement,
    ReceiptLookups,
    ReceiptMonth,
    ReceiptRequest,
    StoredLookups,
    receipt_judge,
    receipt_month,
    receipt_record,
)
from .reversals import KINDS as MOVEMENT_KINDS
from .reversals import movement_correct, movement_reverse
from .rules import (
    NO_RATES,
    RefRates,
    firm_is_registered,
    month_item,
    month_position,
    ref_rates,
    retention_rule_on,
    tax_rate_on,
)

__all__ = [
    "MAX_AMOUNT",
    "MOVEMENT_KINDS",
    "NO_RATES",
    "ChunkOutcome",
    "Judgement",
    "ReceiptLookups",
    "ReceiptMonth",
    "ReceiptRequest",
    "RefRates",
    "RowOutcome",
    "StoredLookups",
    "allocation_create",
    "audit",
    "conversion_create",
    "firm_account_open",
    "firm_is_registered",
    "foreign_currencies",
    "local_today",
    "lock_firm",
    "month_item",
    "month_position",
    "movement_correct",
    "movement_reverse",
    "receipt_judge",
    "receipt_month",
    "receipt_record",
    "receipts_check_chunks",
    "receipts_record_chunks",
    "receipts_record_many",
    "ref_rates",
    "request_fingerprint",
    "retention_rule_on",
    "tax_rate_on",
    "transfer_create",
]
