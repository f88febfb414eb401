"""Django admin of the ESFCA rules (platform admin's work).

Rule versions, tax rates, equity caps, parameters and purpose codes are data a platform
admin maintains (rules.md: parameters with effective dates). Money records are written
only by the services, so the admin shows them read-only.
"""

from django.contrib import admin

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
    exclude = ["rows", "report"]


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
