"""Celery doors into the ledger. Beat runs ``fx_refresh`` on working days (settings)."""

import logging

from celery import shared_task

from ledger.fx import services
from ledger.fx.errors import FxFeedUnavailable
from ledger.fx.providers import configured_providers

logger = logging.getLogger(__name__)

# Backoff between tries: 2, 4, 8, 16, 32 s (no jitter: predictable, and testable).
FX_RETRY = {
    "autoretry_for": (FxFeedUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": False,
    "max_retries": 5,
}


@shared_task(bind=True, name="ledger.tasks.fx_refresh", **FX_RETRY)
def fx_refresh(self, provider: str | None = None):
    """Refresh one provider's rates, or with no argument start one task per configured provider.

    Each provider runs (and retries) in its own task, so one failing never stops
    the others. A transient failure (network, timeout, HTTP 5xx, no USD/PKR yet
    for the ECB cross) is retried with exponential backoff; a malformed payload
    is not. Every try leaves an ``FxRefreshLog`` row. Safe to run twice: the
    store is idempotent.
    """
    if provider is None:
        started = []
        for name in configured_providers():
            if self.request.is_eager:
                # No broker: run it here and never let its failure reach the loop. (Celery
                # runs eager retries at once, and only when eager exceptions don't propagate.)
                try:
                    result = fx_refresh.apply((name,), throw=False)
                except Exception as exc:
                    logger.error("FX refresh of %s failed: %s", name, exc)
                else:
                    if result.failed():
                        logger.error("FX refresh of %s gave up: %s", name, result.result)
            else:
                fx_refresh.delay(name)
            started.append(name)
        return started
    log = services.fx_refresh(provider=provider)
    if not log.ok and log.retryable:
        raise FxFeedUnavailable(log.message)
    return {
        "provider": provider,
        "ok": log.ok,
        "log": log.pk,
        "created": log.created,
        "held": log.held,
        "message": log.message,
    }
