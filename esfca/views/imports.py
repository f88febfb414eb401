"""Import receipts: upload → dry run (per-row report) → import (Celery, progress bar)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import imports, selectors
from ..errors import InvalidState, QueueUnavailable
from ..forms import ImportUploadForm
from ..models import ImportJob
from .access import firm_page, operated_firm

REPORT_PAGE = 200


@require_http_methods(["GET", "POST"])
@login_required
def import_new(request, firm_id: int):
    """Keep the file and start its dry run; the file's refusals on the form (422), a task
    queue that does not answer too (503, nothing kept)."""
    firm = operated_firm(request, firm_id)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.import_job_create(
                firm=firm, actor=request.user, filename=upload.name, data=upload
            )
            imports.import_start(job=job, dry_run=True)
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        except QueueUnavailable as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            return redirect("import_detail", firm_id=firm.pk, job_id=job.pk)
    if request.method == "POST" and status == 200:
        status = 422
    jobs = selectors.import_jobs_of(firm)[:10]
    return render(
        request,
        "esfca/import_new.html",
        firm_page(request, firm, form=form, jobs=jobs, columns=imports.COLUMNS, help=imports.HELP),
        status=status,
    )


@require_GET
@login_required
def import_template(request, firm_id: int, fmt: str):
    operated_firm(request, firm_id)
    if fmt == "xlsx":
        body = imports.template_xlsx()
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = imports.template_csv(), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="receipts-template.{fmt}"'
    return response


def _job(request, firm_id: int, job_id: int):
    firm = operated_firm(request, firm_id)
    jobs = ImportJob.objects.filter(firm=firm).defer("report")
    imports.imports_sweep(jobs=jobs.filter(pk=job_id))  # a stopped worker shows, beat or not
    return firm, get_object_or_404(jobs, pk=job_id)


@require_GET
@login_required
def import_detail(request, firm_id: int, job_id: int):
    firm, job = _job(request, firm_id, job_id)
    return _detail(request, firm, job)


def _detail(request, firm, job, status: int = 200):
    show = request.GET.get("show", "all")
    lines = imports.report_lines(job, show)  # a page read at a time
    page = Paginator(lines, REPORT_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "esfca/import_detail.html",
        firm_page(request, firm, job=job, page=page, show=show),
        status=status,
    )


@require_POST
@login_required
def import_run(request, firm_id: int, job_id: int):
    firm, job = _job(request, firm_id, job_id)
    if job.status != ImportJob.Status.CHECKED:
        messages.error(request, _("Only a checked file can be imported."))
        return redirect("import_detail", firm_id=firm.pk, job_id=job.pk)
    try:
        imports.import_start(job=job, dry_run=False)
    except QueueUnavailable as exc:  # the job is still checked: the button stays
        messages.error(request, exc.message)
        return _detail(request, firm, job, status=exc.status)
    return redirect("import_detail", firm_id=firm.pk, job_id=job.pk)


@require_POST
@login_required
def import_resume(request, firm_id: int, job_id: int):
    """Start a stopped job again: an import goes on after its last committed chunk."""
    firm, job = _job(request, firm_id, job_id)
    try:
        imports.import_resume(job=job)
    except InvalidState as exc:
        messages.error(request, exc.message)
    except QueueUnavailable as exc:  # the job is as it was: the button stays
        messages.error(request, exc.message)
        job.refresh_from_db()
        return _detail(request, firm, job, status=exc.status)
    return redirect("import_detail", firm_id=firm.pk, job_id=job.pk)


@require_GET
@login_required
def import_progress(request, firm_id: int, job_id: int):
    """htmx: the progress bar; once finished, tells htmx to reload the full report."""
    firm, job = _job(request, firm_id, job_id)
    response = render(request, "esfca/_import_progress.html", {"job": job, "firm": firm})
    if request.htmx and job.status not in (ImportJob.Status.CHECKING, ImportJob.Status.IMPORTING):
        response["HX-Refresh"] = "true"
    return response
