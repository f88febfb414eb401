"""The bank reviewer's pages: the queue, a summary with accept/return, the portfolio."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from exporters.selectors import user_reviews_firm

from .. import details, services
from ..errors import EsfcaError
from ..forms import ReviewDecisionForm
from ..models import MonthlySummary
from ..summaries import documents
from ..summaries import services as summary_services
from ..summaries.figures import summary_detail
from ..summaries.formatting import month_label, month_parse, previous_month
from ..summaries.reviews import (
    bank_portfolio,
    review_queue,
    review_rows,
    summary_for_reviewer,
)
from .access import reviewer_banks
from .months import DOCUMENTS, attachment

QUEUE_PAGE = 50
STATUSES = ("filed", "accepted", "returned")


@require_GET
@login_required
def queue(request):
    reviewer_banks(request)
    status = request.GET.get("status", "filed")
    status = status if status in STATUSES else None
    page = Paginator(review_queue(user=request.user, status=status), QUEUE_PAGE)
    page = page.get_page(request.GET.get("page"))
    rows = review_rows(list(page.object_list))
    return render(
        request,
        "esfca/review_queue.html",
        {"rows": rows, "page": page, "status": status or "", "is_reviewer": True,
         "query": f"status={status or ''}"},
    )  # fmt: skip


def _summary(request, pk: int) -> MonthlySummary:
    reviewer_banks(request)
    summary = summary_for_reviewer(user=request.user, pk=pk)
    if summary is None:
        raise Http404("No such summary.")
    if not user_reviews_firm(request.user, summary.firm):
        raise PermissionDenied("Only a reviewer of the firm's bank decides on its summary.")
    return summary


@require_http_methods(["GET", "POST"])
@login_required
def summary(request, pk: int):
    record = _summary(request, pk)
    form = ReviewDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            decided = summary_services.review_decide(
                summary=record,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
                actor=request.user,
            )
        except EsfcaError as exc:
            for field, problems in (exc.details or {}).items():
                if field in form.fields and isinstance(problems, list):
                    for problem in problems:
                        form.add_error(field, problem)
            if not form.errors:
                form.add_error(None, exc.message)
        else:
            label = _("accepted") if decided.status == "accepted" else _("returned")
            messages.success(
                request,
                _("%(firm)s %(month)s is %(label)s.")
                % {"firm": decided.firm.name, "month": f"{decided.month:%Y-%m}", "label": label},
            )
            return redirect("review_summary", pk=decided.pk)
    payload = summary_detail(firm=record.firm, month=record.month, revision=record.revision)
    return render(
        request,
        "esfca/review_summary.html",
        {
            "record": record,
            "s": payload,
            "form": form,
            "events": record.events.select_related("actor"),
            "is_reviewer": True,
            "reviewed_firm": record.firm,
            "targets": details.flag_targets(record.firm, payload["flags"]),
        },
        status=422 if request.method == "POST" else 200,
    )


@require_GET
@login_required
def summary_download(request, pk: int, fmt: str):
    record = _summary(request, pk)
    if fmt not in DOCUMENTS:
        raise Http404("No such format.")
    payload = summary_detail(firm=record.firm, month=record.month, revision=record.revision)
    build, content_type = DOCUMENTS[fmt]
    return attachment(build(payload), content_type, documents.filename(payload, fmt))


def _portfolio_args(request):
    banks = reviewer_banks(request)
    code = request.GET.get("bank") or banks[0].code
    bank = next((b for b in banks if b.code == code), None)
    if bank is None:
        raise Http404("No such bank.")
    text = request.GET.get("month") or month_label(previous_month(services.local_today()))
    try:
        first = month_parse(text)
    except EsfcaError:
        raise Http404("No such month.") from None
    return banks, bank, first


@require_GET
@login_required
def portfolio(request):
    banks, bank, first = _portfolio_args(request)
    data = bank_portfolio(bank=bank, month=first)
    return render(
        request,
        "esfca/portfolio.html",
        {"banks": banks, "bank": bank, "month": first, "data": data, "is_reviewer": True},
    )


@require_GET
@login_required
def portfolio_download(request, fmt: str):
    _, bank, first = _portfolio_args(request)
    if fmt not in ("csv", "xlsx"):
        raise Http404("No such format.")
    data = bank_portfolio(bank=bank, month=first)
    name = f"esfca-portfolio-{bank.code}-{data['month']}.{fmt}"
    if fmt == "csv":
        return attachment(documents.portfolio_csv(data), documents.CSV_TYPE, name)
    return attachment(documents.portfolio_xlsx(data), documents.XLSX_TYPE, name)
