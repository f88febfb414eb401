"""The month page: the summary's figures and flags, the file button, downloads, history.

Figures, flags, documents and filing are the summaries module's (``esfca.summaries``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ledger.errors import LedgerError

from .. import details, services
from ..errors import EsfcaError
from ..models import SummaryEvent
from ..security import summary_download_audit
from ..summaries import documents
from ..summaries import services as summary_services
from ..summaries.figures import summary_detail
from ..summaries.formatting import month_label, month_parse
from ..summaries.months import month_picker
from .access import firm_page, firm_slice, operated_firm, visible_firm

DOCUMENTS = {
    "csv": (documents.summary_csv, documents.CSV_TYPE),
    "xlsx": (documents.summary_xlsx, documents.XLSX_TYPE),
    "pdf": (documents.summary_pdf, documents.PDF_TYPE),
}


def _month(text: str):
    try:
        return month_parse(text)
    except EsfcaError:
        raise Http404("No such month.") from None


def attachment(body: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def month_current(request, firm_id: int):
    firm = visible_firm(request, firm_id)
    asked = request.GET.get("month", "")
    first = _month(asked) if asked else services.local_today().replace(day=1)
    return redirect("month", firm_id=firm.pk, month=month_label(first))


@require_GET
@login_required
def month(request, firm_id: int, month: str):
    firm = visible_firm(request, firm_id)
    first = _month(month)
    banks = firm_slice(request, firm)
    payload = summary_detail(firm=firm, month=first, banks=banks)
    events = SummaryEvent.objects.filter(summary__firm=firm, summary__month=first).select_related(
        "summary", "actor", "review__bank"
    )
    if not banks.whole:  # another bank's decisions and comments are not the reviewer's
        events = events.filter(Q(review__isnull=True) | banks.accounts("review__bank_id"))
    return render(
        request,
        "esfca/month.html",
        firm_page(
            request,
            firm,
            s=payload,
            month=first,
            month_text=month,
            events=events,
            picker=month_picker(firm, today=services.local_today(), selected=first),
            targets=details.flag_targets(firm, payload["flags"]),
            can_file=payload["status"] in ("draft", "returned") or bool(payload["changes"]),
        ),
    )


@require_POST
@login_required
def month_file(request, firm_id: int, month: str):
    firm = operated_firm(request, firm_id)
    first = _month(month)
    try:
        summary = summary_services.summary_file(firm=firm, month=first, actor=request.user)
    except (EsfcaError, LedgerError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{month} filed as revision {summary.revision} (SHA-256 {summary.sha256[:12]}…).",
        )
    return redirect("month", firm_id=firm.pk, month=month)


@require_GET
@login_required
def month_download(request, firm_id: int, month: str, fmt: str):
    firm = visible_firm(request, firm_id)
    first = _month(month)
    if fmt not in DOCUMENTS:
        raise Http404("No such format.")
    payload = summary_detail(firm=firm, month=first, banks=firm_slice(request, firm))
    build, content_type = DOCUMENTS[fmt]
    summary_download_audit(request, firm, payload, fmt)
    return attachment(build(payload), content_type, documents.filename(payload, fmt))
