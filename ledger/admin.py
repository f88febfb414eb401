from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from .fx.arith import rate_error
from .fx.services import (
    IMPORTABLE_SOURCES,
    How,
    RateWriter,
    fx_held_decide,
    fx_import_csv,
    fx_rate_store,
    rate_date_error,
)
from .models import Account, Entry, FxRate, FxRefreshLog, Transaction


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


class FxCsvUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with the columns date,currency,buy,sell (PKR per unit).")
    source = forms.ChoiceField(
        choices=[(s, FxRate.Source(s).label) for s in IMPORTABLE_SOURCES],
        initial=FxRate.Source.SBP_WACR,
    )
    dry_run = forms.BooleanField(required=False, help_text="Check the file and report only.")


class FxRateForm(forms.ModelForm):
    """A rate typed in: the figures every stored rate must have (positive, places, limit),
    and a date that is not in the future (any past date is fine, rules.md §10)."""

    def clean(self):
        cleaned = super().clean()
        for side in ("buy", "sell"):  # absent once stored: read-only then
            if cleaned.get(side) is not None and (problem := rate_error(cleaned[side])):
                self.add_error(side, problem)
        if cleaned.get("date") is not None and (problem := rate_date_error(cleaned["date"])):
            self.add_error("date", problem)
        return cleaned


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    """Rates: entered by hand (through the move guard), uploaded as CSV, held ones reviewed.

    Only platform admins (superusers) write rates (rules.md §10), whatever model permissions
    a staff user was given; every rate typed, uploaded, approved or rejected here is audited
    (the services announce it, ``ledger.fx.signals``).
    """

    form = FxRateForm
    list_display = ["currency", "date", "source", "buy", "sell", "status", "note"]
    list_filter = ["status", "source", "currency"]
    date_hierarchy = "date"
    actions = ["approve_held", "reject_held"]
    change_list_template = "admin/ledger/fxrate/change_list.html"
    fields = ["currency", "date", "source", "buy", "sell", "status", "note"]

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        # A stored rate's figures change only through the store service (upload or feed).
        if obj is None:
            return ["status"]
        return ["currency", "date", "source", "buy", "sell", "status"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        outcome = fx_rate_store(
            currency=obj.currency,
            on=obj.date,
            buy=obj.buy,
            sell=obj.sell,
            source=obj.source,
            by=RateWriter(How.ADMIN, request.user),
            note=obj.note or f"Entered by {request.user}",
        )
        obj.pk, obj.status, obj.note = outcome.rate.pk, outcome.rate.status, outcome.rate.note
        obj._state.adding = False
        if outcome.outcome == "held":
            messages.warning(request, outcome.message)

    @admin.action(description="Approve the selected rates held for review")
    def approve_held(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject the selected rates held for review")
    def reject_held(self, request, queryset):
        self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve: bool) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied
        selected = list(queryset.values_list("pk", flat=True))
        decided = fx_held_decide(
            rate_ids=selected, approve=approve, by=RateWriter(How.ADMIN, request.user)
        )
        verb = "approved" if approve else "rejected"
        messages.success(request, f"{len(decided)} held rate(s) {verb}.")
        if skipped := len(selected) - len(decided):
            messages.warning(
                request, f"{skipped} selected rate(s) not held for review: left as they were."
            )

    def get_urls(self):
        upload = path(
            "upload-csv/",
            self.admin_site.admin_view(self.upload_csv_view),
            name="ledger_fxrate_upload_csv",
        )
        return [upload, *super().get_urls()]

    def upload_csv_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        report = None
        form = FxCsvUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            raw = form.cleaned_data["file"].read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            else:
                report = fx_import_csv(
                    text=text,
                    source=form.cleaned_data["source"],
                    dry_run=form.cleaned_data["dry_run"],
                    by=RateWriter(How.UPLOAD, request.user),
                )
                level = messages.SUCCESS if report.ok else messages.WARNING
                summary = ", ".join(
                    f"{report.count(o)} {o}"
                    for o in ("created", "held", "updated", "unchanged", "conflict", "error")
                )
                prefix = "Dry run, nothing stored: " if report.dry_run else ""
                messages.add_message(request, level, f"{prefix}{summary}.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload exchange rates (CSV)",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/ledger/fxrate/upload_csv.html", context)


@admin.register(FxRefreshLog)
class FxRefreshLogAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "provider",
        "ok",
        "retryable",
        "rate_date",
        "created",
        "held",
        "updated",
        "unchanged",
        "message",
    ]
    list_filter = ["ok", "provider"]
    date_hierarchy = "started_at"
