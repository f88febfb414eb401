"""Landing page, the firm dashboard, and the receipts and allocations lists."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from exporters.models import Membership
from exporters.selectors import firms_visible_to, user_primary_role

from .. import lists, selectors
from ..exports import CsvWriter
from ..summaries.reviews import months_returned
from .access import firm_page, firm_slice, visible_firm
from .charts import monthly_bars

PAGE_SIZE = 50


@require_GET
@login_required
def home(request):
    """Officers and viewers land on their firm's dashboard, reviewers on their queue."""
    role = user_primary_role(request.user)
    if role in Membership.FIRM_ROLES:
        firm = firms_visible_to(request.user).order_by("pk").first()
        if firm is not None:
            return _dashboard(request, firm)
    if role == Membership.Role.BANK_REVIEWER:
        return redirect("review_queue")
    firms = firms_visible_to(request.user).order_by("name")
    return render(request, "esfca/home.html", {"firms": firms, "role": role})


@require_GET
@login_required
def dashboard(request, firm_id: int):
    return _dashboard(request, visible_firm(request, firm_id))


def _dashboard(request, firm):
    banks = firm_slice(request, firm)
    data = selectors.dashboard(firm, banks=banks)
    returned = months_returned(firm) if banks.whole else []
    return render(
        request,
        "esfca/dashboard.html",
        firm_page(request, firm, d=data, chart=monthly_bars(data.months), returned=returned),
    )


def _listing(request, firm, filterset, template, **extra):
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        template,
        firm_page(request, firm, filter=filterset, page=page, query=query.urlencode(), **extra),
    )


class _Echo:
    def write(self, value):
        return value


def _csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    """Plain decimals and ISO dates in files (no thousands separators); text that a
    spreadsheet would run as a formula is neutralised (``esfca.exports``)."""
    writer = CsvWriter(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def receipts(request, firm_id: int):
    firm = visible_firm(request, firm_id)
    filterset = lists.filtered(lists.ReceiptFilter, firm, request.GET, firm_slice(request, firm))
    return _listing(request, firm, filterset, "esfca/receipts.html")


RECEIPT_COLUMNS = [
    "reference", "value_date", "currency", "amount", "retained", "converted",
    "conversion_rate", "tax_rate", "tax_withheld_pkr", "pkr_credited", "client_name",
    "client_country", "purpose_code", "rule_basis", "rule_ratio",
]  # fmt: skip


@require_GET
@login_required
def receipts_csv(request, firm_id: int):
    firm = visible_firm(request, firm_id)
    qs = lists.filtered(lists.ReceiptFilter, firm, request.GET, firm_slice(request, firm)).qs
    rows = (
        [
            r.reference,
            r.value_date,
            r.amount.currency.code,
            r.amount.amount,
            r.retained,
            r.converted,
            r.conversion_rate,
            r.tax_rate,
            r.tax_withheld,
            r.pkr_credited,
            r.client_name,
            r.client_country,
            r.purpose_code,
            r.rule_basis,
            r.rule_ratio,
        ]
        for r in qs.iterator(chunk_size=2000)
    )
    return _csv_response(f"receipts-{firm.pk}.csv", RECEIPT_COLUMNS, rows)


@require_GET
@login_required
def allocations(request, firm_id: int):
    firm = visible_firm(request, firm_id)
    filterset = lists.filtered(lists.AllocationFilter, firm, request.GET, firm_slice(request, firm))
    return _listing(request, firm, filterset, "esfca/allocations.html")


ALLOCATION_COLUMNS = [
    "reference", "value_date", "currency", "amount", "category", "payee_name",
    "payee_country", "investee_name", "investee_country", "sbp_approval_reference",
    "balance_after",
]  # fmt: skip


@require_GET
@login_required
def allocations_csv(request, firm_id: int):
    firm = visible_firm(request, firm_id)
    qs = lists.filtered(lists.AllocationFilter, firm, request.GET, firm_slice(request, firm)).qs
    rows = (
        [
            a.reference,
            a.value_date,
            a.amount.currency.code,
            a.amount.amount,
            a.category,
            a.payee_name,
            a.payee_country,
            a.investee_name,
            a.investee_country,
            a.sbp_approval_reference,
            a.balance_after,
        ]
        for a in qs.iterator(chunk_size=2000)
    )
    return _csv_response(f"allocations-{firm.pk}.csv", ALLOCATION_COLUMNS, rows)
