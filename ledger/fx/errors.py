"""Why a rate was not stored: a second rate for a key, or a provider that produced none."""

from ledger.errors import IdempotencyConflict, LedgerError


class DuplicateRate(IdempotencyConflict):
    default_message = "A rate for this currency, date and source already exists."


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
