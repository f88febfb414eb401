"""Why a rate was not stored or decided: a second rate for a key, a provider that produced
none, a decision on a rate that does not exist or is not held."""

from ledger.errors import IdempotencyConflict, LedgerError


class DuplicateRate(IdempotencyConflict):
    default_message = "A rate for this currency, date and source already exists."


class RateNotFound(LedgerError):
    code = "not_found"
    status = 404
    default_message = "No such rate."


class RateNotHeld(LedgerError):
    """Only a rate held by the move guard can be approved or rejected (rules.md §10)."""

    code = "invalid_state"
    status = 409
    default_message = "Only a rate held for review can be approved or rejected."


class FxFeedError(LedgerError):
    """Nothing is stored when one of these is raised."""

    code = "fx_feed_error"
    status = 502
    default_message = "The exchange-rate feed could not be used."


class FxFeedUnavailable(FxFeedError):
    """Transient: the network, a timeout, an HTTP 5xx or a rate we depend on not there yet.

    The Celery task retries these with exponential backoff.
    """

    default_message = "The exchange-rate feed is unavailable."


class FxFeedInvalid(FxFeedError):
    """Permanent for this payload: malformed body, missing currency, zero or negative rate."""

    default_message = "The exchange-rate feed sent an unusable payload."
