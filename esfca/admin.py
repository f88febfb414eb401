"""Django admin of the ESFCA rules (platform admin's work).

Rule versions, tax rates, equity caps, parameters and purpose codes are data a platform
admin maintains (rules.md: parameters with effective dates). Money records are written
only by the services, so the admin shows them read-only.

Onboarding: the firm's page (``exporters``' Firm admin, extended here because only this app
may call its services) lists the firm's bank accounts and opens new ones through
``firm_account_open``, the API's own checks (IBAN, one per firm, bank and currency).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from exporters import admin as exporters_admin
from exporters.models import Firm
from ledger.models import Account

from .errors import EsfcaError
from .forms import FirmAccountForm
from .models import (
    Allocation,
    AuditEvent,
    Conversion,
    EquityCapVersion,
    ImportJob,
    MonthlySummary,
    Parameter,
    PurposeCode,
    Receipt,
    RetentionRuleVersion,
    SummaryEvent,
    TaxRate,
    Transfer,
)
from .services import firm_account_open


@admin.register(RetentionRuleVersion)
class RetentionRuleVersionAdmin(admin.ModelAdmin):
    list_display = ["firm_kind", "effective_from", "ratio", "monthly_floor_usd", "basis"]
    list_filter = ["firm_kind", "basis"]
    ordering = ["firm_kind", "-effective_from"]


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["applies_to", "effective_from", "rate"]
    list_filter = ["applies_to"]


@admin.register(EquityCapVersion)
class EquityCapVersionAdmin(admin.ModelAdmin):
    list_display = ["effective_from", "firm_kind", "basis", "ratio", "floor_usd"]


@admin.register(Parameter)
class ParameterAdmin(admin.ModelAdmin):
    list_display = ["key", "effective_from", "value"]
    list_filter = ["key"]


@admin.register(PurposeCode)
class PurposeCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "description", "export_proceeds"]
    search_fields = ["code", "description"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the services only: shown, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = [
        "reference", "firm", "value_date", "amount", "retained", "converted", "pkr_credited",
        "client_name", "client_country",
    ]  # fmt: skip
    list_filter = ["currency", "rule_basis"]
    search_fields = ["reference", "client_name", "firm__name"]
    date_hierarchy = "value_date"


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["reference", "firm", "value_date", "category", "amount", "payee_name"]
    list_filter = ["category", "currency"]
    search_fields = ["reference", "payee_name", "firm__name"]
    date_hierarchy = "value_date"


@admin.register(Conversion)
class ConversionAdmin(ReadOnlyAdmin):
    list_display = ["reference", "firm", "value_date", "amount", "rate", "pkr_amount"]
    search_fields = ["reference", "firm__name"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["reference", "firm", "value_date", "amount", "to_amount", "rate"]
    search_fields = ["reference", "firm__name"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "firm", "action", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["object_id", "firm__name"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["filename", "firm", "created_at", "status", "total", "accepted", "refused"]
    list_filter = ["status"]
    exclude = ["report"]


class SummaryEventInline(admin.TabularInline):
    model = SummaryEvent
    extra = 0
    can_delete = False
    readonly_fields = ["action", "actor", "comment", "at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MonthlySummary)
class MonthlySummaryAdmin(ReadOnlyAdmin):
    list_display = ["firm", "month", "revision", "status", "filed_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["firm__name"]
    inlines = [SummaryEventInline]


# --- onboarding: a firm's bank accounts ------------------------------------------------------


class BankAccountInline(admin.TabularInline):
    """The firm's PKR account and ESFCAs, shown; opened by the view below, never edited."""

    model = Account
    fk_name = "owner"
    fields = ["kind", "bank", "currency", "iban", "balance", "opened_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "bank account"
    verbose_name_plural = "bank accounts (opened with “Open a bank account” above)"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind__in=Account.BANK_KINDS)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(Firm)


@admin.register(Firm)
class FirmAdmin(exporters_admin.FirmAdmin):
    inlines = [*exporters_admin.FirmAdmin.inlines, BankAccountInline]
    change_form_template = "admin/esfca/firm/change_form.html"

    def get_urls(self):
        open_account = path(
            "<int:firm_id>/open-account/",
            self.admin_site.admin_view(self.open_account_view),
            name="exporters_firm_open_account",
        )
        return [open_account, *super().get_urls()]

    def open_account_view(self, request, firm_id: int):
        """A platform admin opens the firm's PKR account or an ESFCA; a refusal of the
        service is shown on the form."""
        firm = self.get_object(request, str(firm_id))
        if firm is None:
            raise Http404("No such firm.")
        if not request.user.is_superuser:
            raise PermissionDenied("Only a platform admin opens a firm's accounts.")
        form = FirmAccountForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                account = firm_account_open(firm=firm, actor=request.user, **form.service_kwargs())
            except EsfcaError as exc:
                form.show_refusal(exc)
            else:
                messages.success(request, f"{account.currency} account {account.iban} opened.")
                return redirect(reverse("admin:exporters_firm_change", args=[firm.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": firm,
            "title": f"Open a bank account for {firm}",
            "form": form,
        }
        status = 422 if request.method == "POST" else 200
        return TemplateResponse(
            request, "admin/esfca/firm/open_account.html", context, status=status
        )
