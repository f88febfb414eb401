"""Ledger refusals. Each carries the API error code it maps to (api-contract.md)."""

from exporters.errors import DomainError


class LedgerError(DomainError):
    default_message = "The ledger refused this posting."


class InvalidPosting(LedgerError):
    code = "validation_error"
    default_message = "The posting is malformed."


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"
    default_message = "The account's balance does not cover this amount."


class IdempotencyConflict(LedgerError):
    code = "duplicate_reference"
    status = 409
    default_message = "This reference was already used for a different request."


class FxRateMissing(LedgerError):
    code = "fx_rate_missing"
    default_message = "No exchange rate is available for that currency and day."


class AlreadyReversed(LedgerError):
    code = "invalid_state"
    status = 409
    default_message = "This transaction has already been reversed."
