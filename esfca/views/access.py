"""The tenant rules of ``exporters.selectors`` in the web's error style: a firm the user may
not see is a 404 (no existence leak), an action its role may not take is a 403."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from exporters.models import Bank, Firm
from exporters.selectors import (
    BankSlice,
    banks_reviewed_by,
    firm_slice_for,
    firm_visible_to,
    user_can_operate,
)


def visible_firm(request, firm_id: int) -> Firm:
    """The firm if the user may see it; anything else is a 404."""
    try:
        return firm_visible_to(request.user, firm_id)
    except Firm.DoesNotExist:
        raise Http404("No Firm matches the given query.") from None


def operated_firm(request, firm_id: int) -> Firm:
    """The firm if the user is its finance officer: 404 when not visible, 403 when read-only."""
    firm = visible_firm(request, firm_id)
    if not user_can_operate(request.user, firm):
        raise PermissionDenied("Your role may see this firm but not move its money.")
    return firm


def reviewer_banks(request) -> list[Bank]:
    """The banks whose summaries the user reviews; a 403 for everyone else."""
    banks = list(banks_reviewed_by(request.user))
    if not banks:
        raise PermissionDenied("Only bank reviewers work the review queue.")
    return banks


def firm_slice(request, firm: Firm) -> BankSlice:
    """The part of the firm the user sees: a bank's reviewer, its bank's accounts only."""
    return firm_slice_for(request.user, firm)


def firm_page(request, firm: Firm, **context) -> dict:
    """The context every firm page shares (navigation, role)."""
    return {"firm": firm, "can_operate": user_can_operate(request.user, firm), **context}
