"""Who may see and who may act, on top of the tenant scoping of ``exporters.selectors``."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from exporters.models import Bank, Firm
from exporters.selectors import banks_reviewed_by, firms_operated_by, firms_visible_to


def visible_firm(request, firm_id: int) -> Firm:
    """The firm if the user may see it; anything else is a 404 (no existence leak)."""
    return get_object_or_404(firms_visible_to(request.user), pk=firm_id)


def can_operate(user, firm: Firm) -> bool:
    return firms_operated_by(user).filter(pk=firm.pk).exists()


def operated_firm(request, firm_id: int) -> Firm:
    """The firm if the user is its finance officer: 404 when not visible, 403 when read-only."""
    firm = visible_firm(request, firm_id)
    if not can_operate(request.user, firm):
        raise PermissionDenied("Your role may see this firm but not move its money.")
    return firm


def reviewer_banks(request) -> list[Bank]:
    """The banks whose summaries the user reviews; a 403 for everyone else."""
    banks = list(banks_reviewed_by(request.user))
    if not banks:
        raise PermissionDenied("Only bank reviewers work the review queue.")
    return banks


def firm_page(request, firm: Firm, **context) -> dict:
    """The context every firm page shares (navigation, role)."""
    return {"firm": firm, "can_operate": can_operate(request.user, firm), **context}
