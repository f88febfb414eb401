"""Web pages (mounted at the site root). The view tests iterate over these patterns."""

from django.urls import path

from .views import firm, imports, money, months, movements, review

F = "firms/<int:firm_id>/"
M = F + "months/<str:month>/"


def movement_pages(plural: str, kind: str) -> list:
    """A movement's own page and its reverse and correct actions (one view each for the
    four kinds): ``<kind>_detail``, ``<kind>_reverse``, ``<kind>_correct``."""
    page, kwargs = F + f"{plural}/<int:pk>/", {"kind": kind}
    return [
        path(page, movements.movement_detail, kwargs, name=f"{kind}_detail"),
        path(page + "reverse/", money.movement_reverse, kwargs, name=f"{kind}_reverse"),
        path(page + "correct/", money.movement_correct, kwargs, name=f"{kind}_correct"),
    ]


urlpatterns = [
    path("", firm.home, name="home"),
    path(F, firm.dashboard, name="firm_dashboard"),
    path(F + "receipts/", firm.receipts, name="receipts"),
    path(F + "receipts/export.csv", firm.receipts_csv, name="receipts_csv"),
    path(F + "receipts/new/", money.receipt_new, name="receipt_new"),
    *movement_pages("receipts", "receipt"),
    path(F + "receipts/preview/", money.receipt_preview, name="receipt_preview"),
    path(F + "imports/", imports.import_new, name="import_new"),
    path(F + "imports/template.<str:fmt>", imports.import_template, name="import_template"),
    path(F + "imports/<int:job_id>/", imports.import_detail, name="import_detail"),
    path(F + "imports/<int:job_id>/run/", imports.import_run, name="import_run"),
    path(F + "imports/<int:job_id>/resume/", imports.import_resume, name="import_resume"),
    path(F + "imports/<int:job_id>/progress/", imports.import_progress, name="import_progress"),
    path(F + "allocations/", firm.allocations, name="allocations"),
    path(F + "allocations/export.csv", firm.allocations_csv, name="allocations_csv"),
    path(F + "allocations/new/", money.allocation_new, name="allocation_new"),
    *movement_pages("allocations", "allocation"),
    path(F + "allocations/context/", money.allocation_context, name="allocation_context"),
    path(F + "conversions/new/", money.conversion_new, name="conversion_new"),
    *movement_pages("conversions", "conversion"),
    path(F + "transfers/new/", money.transfer_new, name="transfer_new"),
    *movement_pages("transfers", "transfer"),
    path(F + "months/", months.month_current, name="month_current"),
    path(M, months.month, name="month"),
    path(M + "file/", months.month_file, name="month_file"),
    path(M + "download.<str:fmt>", months.month_download, name="month_download"),
    path("review/", review.queue, name="review_queue"),
    path("review/summaries/<int:pk>/", review.summary, name="review_summary"),
    path(
        "review/summaries/<int:pk>/download.<str:fmt>",
        review.summary_download,
        name="review_summary_download",
    ),
    path("review/portfolio/", review.portfolio, name="portfolio"),
    path(
        "review/portfolio/download.<str:fmt>",
        review.portfolio_download,
        name="portfolio_download",
    ),
]
