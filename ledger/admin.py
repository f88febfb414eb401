from django.contrib import admin

from .models import Account, Entry, FxRate, Transaction


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is changed only by its services: the admin shows, never edits."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "debit", "credit", "currency"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "bank", "kind", "category", "currency", "iban", "balance"]
    list_filter = ["kind", "currency", "bank"]
    search_fields = ["owner__name", "iban"]


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "value_date", "key", "fx_rate", "posted_at"]
    list_filter = ["kind"]
    search_fields = ["key", "memo"]
    inlines = [EntryInline]


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "date", "source", "buy", "sell", "status", "note"]
    list_filter = ["status", "source", "currency"]
    date_hierarchy = "date"
    actions = ["approve_held", "reject_held"]

    @admin.action(description="Approve the selected rates held for review")
    def approve_held(self, request, queryset):
        queryset.filter(status=FxRate.Status.HELD).update(status=FxRate.Status.ACTIVE)

    @admin.action(description="Reject the selected rates held for review")
    def reject_held(self, request, queryset):
        queryset.filter(status=FxRate.Status.HELD).update(status=FxRate.Status.REJECTED)
