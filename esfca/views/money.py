"""The finance officer's actions: record a receipt (with its live preview), allocate,
convert to PKR, transfer between own ESFCAs, reverse or correct any of those. Each POST
calls one service."""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledger.errors import LedgerError

from .. import details, selectors, services
from ..errors import EsfcaError
from ..forms import (
    AllocationForm,
    ConversionForm,
    ReceiptForm,
    ReceiptPreviewForm,
    ReversalForm,
    TransferForm,
)
from .access import firm_page, operated_firm

REFUSALS = (EsfcaError, LedgerError)


def _action(request, firm, form, service, template, done_message, redirect_to, **context):
    """GET: the empty form. POST: parse, call the service, show its refusal in plain words.
    ``redirect_to``: a firm page's URL name, or a function of the record giving the URL."""
    if request.method == "POST" and form.is_valid():
        try:
            record, created = service(firm=firm, actor=request.user, **form.service_kwargs())
        except REFUSALS as exc:
            form.show_refusal(exc)
        else:
            if created:
                messages.success(request, done_message(record))
            else:
                messages.info(request, _("This reference was already recorded; nothing changed."))
            if callable(redirect_to):
                return redirect(redirect_to(record))
            return redirect(redirect_to, firm_id=firm.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, template, firm_page(request, firm, form=form, **context), status=status)


def _receipt_form_options(firm) -> dict:
    """The receipt form's choices: the firm's currencies and, when it holds ESFCAs at
    several banks, the bank credited (rules.md §11). The same for a new receipt and a
    correction."""
    return {
        "currencies": selectors.firm_currencies(firm),
        "banks": selectors.firm_esfca_banks(firm),
    }


@require_http_methods(["GET", "POST"])
@login_required
def receipt_new(request, firm_id: int):
    firm = operated_firm(request, firm_id)
    options = _receipt_form_options(firm)
    form = ReceiptForm(
        request.POST or None,
        **options,
        initial={
            "value_date": services.local_today(),
            "retain_mode": "max",
            "currency": "USD" if "USD" in options["currencies"] else None,
        },
    )
    return _action(
        request,
        firm,
        form,
        services.receipt_record,
        "esfca/receipt_form.html",
        lambda r: (
            _("Receipt %(ref)s recorded: %(ret)s %(cur)s retained, PKR %(pkr)s credited.")
            % {"ref": r.reference, "ret": r.retained, "cur": r.currency, "pkr": r.pkr_credited}
        ),
        "receipts",
    )


@require_POST
@login_required
def receipt_preview(request, firm_id: int):
    """htmx: the allowed retention, split, tax and PKR credited for the figures typed so far."""
    firm = operated_firm(request, firm_id)
    form = ReceiptPreviewForm(request.POST)
    if form.ready():
        preview = selectors.receipt_preview(firm, **form.preview_kwargs())
    elif form.errors:  # a figure typed that is no number: say so, as the save would
        messages = (m for errors in form.errors.values() for m in errors)
        preview = selectors.ReceiptPreview(ok=False, refusal=" ".join(messages))
    else:
        preview = None
    return render(request, "esfca/_receipt_preview.html", {"preview": preview, "form": form})


@require_http_methods(["GET", "POST"])
@login_required
def allocation_new(request, firm_id: int):
    firm = operated_firm(request, firm_id)
    currencies = selectors.firm_currencies(firm)
    default = "USD" if "USD" in currencies else (currencies[0] if currencies else "")
    form = AllocationForm(
        request.POST or None,
        currencies=currencies,
        initial={"value_date": services.local_today(), "currency": default},
    )
    currency = request.POST.get("currency") or default
    category = request.POST.get("category") or "cloud_infrastructure"
    context = selectors.allocation_context(
        firm, currency=currency, category=category, on=services.local_today()
    )
    return _action(
        request,
        firm,
        form,
        services.allocation_create,
        "esfca/allocation_form.html",
        lambda a: (
            _("Allocation %(ref)s recorded: %(amt)s %(cur)s paid to %(payee)s.")
            % {"ref": a.reference, "amt": a.amount.amount, "cur": a.currency, "payee": a.payee_name}
        ),
        "allocations",
        ctx=context,
    )


@require_GET
@login_required
def allocation_context(request, firm_id: int):
    """htmx: the live ESFCA balance and the rules of the chosen category."""
    firm = operated_firm(request, firm_id)
    context = selectors.allocation_context(
        firm,
        currency=request.GET.get("currency", ""),
        category=request.GET.get("category", ""),
        on=services.local_today(),
    )
    return render(request, "esfca/_allocation_context.html", {"ctx": context, "firm": firm})


@require_http_methods(["GET", "POST"])
@login_required
def conversion_new(request, firm_id: int):
    firm = operated_firm(request, firm_id)
    form = ConversionForm(
        request.POST or None,
        currencies=selectors.firm_currencies(firm),
        initial={"value_date": services.local_today()},
    )
    return _action(
        request,
        firm,
        form,
        services.conversion_create,
        "esfca/conversion_form.html",
        lambda c: (
            _("Converted %(amt)s %(cur)s at %(rate)s: PKR %(pkr)s credited.")
            % {"amt": c.amount.amount, "cur": c.currency, "rate": c.rate, "pkr": c.pkr_amount}
        ),
        "firm_dashboard",
        balances=selectors.firm_esfcas(firm),
    )


@require_http_methods(["GET", "POST"])
@login_required
def transfer_new(request, firm_id: int):
    firm = operated_firm(request, firm_id)
    accounts = list(selectors.firm_esfcas(firm))
    form = TransferForm(
        request.POST or None, accounts=accounts, initial={"value_date": services.local_today()}
    )
    return _action(
        request,
        firm,
        form,
        services.transfer_create,
        "esfca/transfer_form.html",
        lambda t: (
            _("Transferred %(amt)s %(cur)s: %(to)s received.")
            % {"amt": t.amount.amount, "cur": t.currency, "to": t.to_amount}
        ),
        "firm_dashboard",
        balances=accounts,
    )


# --- reversing and correcting a movement (rules.md §9) ---------------------------------------

CORRECTION_FORMS = {
    "receipt": ReceiptForm,
    "allocation": AllocationForm,
    "conversion": ConversionForm,
    "transfer": TransferForm,
}


def _movement(firm, kind: str, pk: int):
    try:
        return details.movement_of(firm, kind, pk)
    except ObjectDoesNotExist:
        raise Http404("No such movement.") from None


def _page_of(kind: str, movement) -> str:
    return reverse(f"{kind}_detail", kwargs={"firm_id": movement.firm_id, "pk": movement.pk})


@require_http_methods(["GET", "POST"])
@login_required
def movement_reverse(request, firm_id: int, pk: int, kind: str):
    firm = operated_firm(request, firm_id)
    original = _movement(firm, kind, pk)
    return _action(
        request,
        firm,
        ReversalForm(request.POST or None),
        partial(services.movement_reverse, kind=kind, movement_id=original.pk),
        "esfca/movement_reverse.html",
        lambda r: (
            _("%(ref)s reversed by %(rev)s.") % {"ref": original.reference, "rev": r.reference}
        ),
        lambda r: _page_of(kind, original),
        kind=kind,
        m=original,
    )


def _movement_form(kind: str, firm, data, original):
    initial = CORRECTION_FORMS[kind].initial_from(original)
    if kind == "transfer":
        return TransferForm(data, accounts=list(selectors.firm_esfcas(firm)), initial=initial)
    if kind == "receipt":
        return ReceiptForm(data, **_receipt_form_options(firm), initial=initial)
    return CORRECTION_FORMS[kind](data, currencies=selectors.firm_currencies(firm), initial=initial)


@require_http_methods(["GET", "POST"])
@login_required
def movement_correct(request, firm_id: int, pk: int, kind: str):
    """The movement's own form, pre-filled; then a confirm screen with both effects (the
    reversal and the new movement, computed by the service and rolled back); then both,
    in one step."""
    firm = operated_firm(request, firm_id)
    original = _movement(firm, kind, pk)
    data = request.POST if request.method == "POST" else None
    form, why = _movement_form(kind, firm, data, original), ReversalForm(data)
    preview = None
    valid = data is not None and all([form.is_valid(), why.is_valid()])
    if valid and "edit" not in data:
        correction = {
            "actor": request.user,
            "movement_id": original.pk,
            "corrected": form.service_kwargs(),
            **why.service_kwargs(),
        }
        try:
            if "confirm" not in data:
                preview = details.correction_preview(firm=firm, kind=kind, **correction)
            else:
                reversal, new, _created = services.movement_correct(
                    firm=firm, kind=kind, **correction
                )
                messages.success(
                    request,
                    _("%(ref)s corrected: reversed by %(rev)s, %(new)s recorded in its place.")
                    % {"ref": original.reference, "rev": reversal.reference, "new": new.reference},
                )
                return redirect(_page_of(kind, new))
        except REFUSALS as exc:
            form.show_refusal(exc)
    context = firm_page(request, firm, form=form, why=why, preview=preview, kind=kind, m=original)
    status = 422 if form.errors or why.errors else 200
    return render(request, "esfca/movement_correct.html", context, status=status)
