"""The audit trail of reference rates (rules.md §10): every rate written, from a feed or a
person, and every held rate approved or rejected, as an ``AuditEvent``.

The ledger announces these (``ledger.fx.signals``) inside the write's transaction, because it
cannot call up into esfca; the rows here commit or roll back with the rate (a dry-run upload
leaves none). Connected by ``EsfcaConfig.ready``.
"""

from ledger.fx.arith import rate_text
from ledger.fx.signals import rate_decided, rate_written

from .audit import audit


def _figures(rate) -> dict:
    return {
        "currency": rate.currency,
        "date": rate.date.isoformat(),
        "source": rate.source,
        "buy": rate_text(rate.buy),
        "sell": rate_text(rate.sell),
        "status": rate.status,
    }


def _who(by) -> dict:
    return {"how": str(by.how), **({"by": by.label} if by.label else {})}


def rate_written_audit(sender, *, rate, by, outcome, message="", **kwargs) -> None:
    """``fx_rate_written``: how it came in (feed, api, admin, upload, command), its figures,
    its status, and why the guard held it."""
    held = {"held_because": message} if message else {}
    details = {"outcome": outcome, **_who(by), **_figures(rate), **held}
    audit(by.actor, None, "fx_rate_written", rate, **details)


def rate_decided_audit(sender, *, rate, by, approved, **kwargs) -> None:
    """``fx_rate_approved`` or ``fx_rate_rejected``, by whom, with the rate's figures."""
    action = "fx_rate_approved" if approved else "fx_rate_rejected"
    audit(by.actor, None, action, rate, **_who(by), **_figures(rate))


def connect() -> None:
    rate_written.connect(rate_written_audit, dispatch_uid="esfca.rate_audit.written")
    rate_decided.connect(rate_decided_audit, dispatch_uid="esfca.rate_audit.decided")
