"""The bank reviewer's pages: the queue, a summary with accept/return, the portfolio."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from exporters.selectors import bank_slice, banks_reviewed_by

from .. import details, services
from ..errors import EsfcaError
from ..forms import ReviewDecisionForm
from ..models import SummaryReview
from ..security import portfolio_download_audit, summary_download_audit
from ..summaries import documents
from ..summaries import flags as F
from ..summaries import services as summary_services
from ..summaries.figures import summary_detail
from ..summaries.formatting import month_label, month_parse, previous_month
from ..summaries.reviews import (
    bank_portfolio,
    review_for_user,
    review_queue,
    review_rows,
)
from .access import reviewer_banks
from .months import DOCUMENTS, attachment

QUEUE_PAGE = 50
STATUSES = ("filed", "accepted", "returned", "closed")


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


def _review(request, pk: int) -> SummaryReview:
    """The user's bank's slice ``pk``: 404 for another tenant's or another bank's."""
    reviewer_banks(request)
    review = review_for_user(user=request.user, pk=pk)
    if review is None:
        raise Http404("No such summary.")
    if not banks_reviewed_by(request.user).filter(pk=review.bank_id).exists():
        raise PermissionDenied("Only a reviewer of the bank decides on its slice.")
    return review


def _slice_payload(review: SummaryReview) -> dict:
    summary = review.summary
    return summary_detail(
        firm=summary.firm,
        month=summary.month,
        revision=summary.revision,
        banks=bank_slice(review.bank),
    )


def _history(review: SummaryReview) -> tuple[list[SummaryReview], list[dict]]:
    """The bank's slices of every revision of the month, and what changed in its figures
    since the previous revision's slice."""
    summary = review.summary
    slices = list(
        SummaryReview.objects.filter(
            summary__firm=summary.firm, summary__month=summary.month, bank=review.bank
        )
        .select_related("summary", "decided_by")
        .order_by("summary__revision")
    )
    earlier = [r for r in slices if r.summary.revision < summary.revision]
    diff = (
        F.figures_diff(
            earlier[-1].snapshot.get("currencies", []), review.snapshot.get("currencies", [])
        )
        if earlier
        else []
    )
    return slices, diff


def _decide(request, review: SummaryReview, form) -> SummaryReview | None:
    """Record the decision; None (with the refusal on the form) when refused."""
    try:
        return summary_services.review_decide(
            review=review,
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
    return None


@require_http_methods(["GET", "POST"])
@login_required
def summary(request, pk: int):
    review = _review(request, pk)
    payload = _slice_payload(review)
    form = ReviewDecisionForm(request.POST or None, open_flags=len(payload["flags"]))
    if request.method == "POST" and form.is_valid():
        decided = _decide(request, review, form)
        if decided is not None:
            label = _("accepted") if decided.status == "accepted" else _("returned")
            messages.success(
                request,
                _("%(bank)s's slice of %(firm)s %(month)s is %(label)s; the summary is %(s)s.")
                % {
                    "bank": decided.bank.code,
                    "firm": decided.summary.firm.name,
                    "month": f"{decided.summary.month:%Y-%m}",
                    "label": label,
                    "s": decided.summary.status,
                },
            )
            return redirect("review_summary", pk=decided.pk)
    slices, diff = _history(review)
    return render(
        request,
        "esfca/review_summary.html",
        {
            "record": review.summary,
            "review": review,
            "s": payload,
            "form": form,
            "flag_rows": F.flags_compared(payload["filed_flags"] or [], payload["flags"]),
            "slices": slices,
            "diff": diff,
            "events": review.summary.events.filter(
                Q(review__isnull=True) | Q(review__bank=review.bank)
            ).select_related("actor", "review__bank"),
            "is_reviewer": True,
            "reviewed_firm": review.summary.firm,
            "targets": details.flag_targets(review.summary.firm, payload["flags"]),
        },
        status=422 if request.method == "POST" else 200,
    )


@require_GET
@login_required
def summary_download(request, pk: int, fmt: str):
    review = _review(request, pk)
    if fmt not in DOCUMENTS:
        raise Http404("No such format.")
    payload = _slice_payload(review)
    build, content_type = DOCUMENTS[fmt]
    summary_download_audit(request, review.summary.firm, payload, fmt)
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
    portfolio_download_audit(request, bank, data["month"], fmt)
    if fmt == "csv":
        return attachment(documents.portfolio_csv(data), documents.CSV_TYPE, name)
    return attachment(documents.portfolio_xlsx(data), documents.XLSX_TYPE, name)
