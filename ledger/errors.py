"""Ledger refusals. Each carries the API error code it maps to (api-contract.md)."""


class LedgerError(Exception):
    code = "validation_error"
    status = 400
    default_message = "The ledger refused this posting."

    def __init__(self, message: str | None = None, **details):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


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
