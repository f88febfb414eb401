"""The finance officer's actions: record a receipt (with its live preview), allocate,
convert to PKR, transfer between own ESFCAs. Each POST calls one service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledger.errors import LedgerError

from .. import selectors, services
from ..errors import EsfcaError
from ..forms import (
    AllocationForm,
    ConversionForm,
    ReceiptForm,
    ReceiptPreviewForm,
    TransferForm,
)
from .access import firm_page, operated_firm

REFUSALS = (EsfcaError, LedgerError)


def _action(request, firm, form, service, template, done_message, redirect_to, **context):
    """GET: the empty form. POST: parse, call the service, show its refusal in plain words."""
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
            return redirect(redirect_to, firm_id=firm.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, template, firm_page(request, firm, form=form, **context), status=status)


@require_http_methods(["GET", "POST"])
@login_required
def receipt_new(request, firm_id: int):
    firm = operated_firm(request, firm_id)
    currencies = selectors.firm_currencies(firm)
    form = ReceiptForm(
        request.POST or None,
        currencies=currencies,
        banks=selectors.firm_esfca_banks(firm),
        initial={
            "value_date": services.local_today(),
            "retain_mode": "max",
            "currency": "USD" if "USD" in currencies else None,
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
    preview = selectors.receipt_preview(firm, **form.preview_kwargs()) if form.ready() else None
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
