"""A movement's own page: one view and one template for the four kinds."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import details
from .access import firm_page, firm_slice, visible_firm


@require_GET
@login_required
def movement_detail(request, firm_id: int, pk: int, kind: str):
    """Everyone who may see the firm; another firm's movement is a 404 like any other."""
    firm = visible_firm(request, firm_id)
    try:
        data = details.movement_detail(firm, kind, pk, firm_slice(request, firm))
    except ObjectDoesNotExist:
        raise Http404("No such movement.") from None
    return render(
        request, "esfca/movement_detail.html", firm_page(request, firm, d=data, m=data.movement)
    )
