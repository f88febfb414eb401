"""Routes of the monthly summaries and the bank review (included by esfca/api/urls.py)."""

from django.urls import path, register_converter

from . import summary_views as views


class MonthConverter:
    """One path segment; the view parses it (``formatting.month_parse``): a malformed month
    is a 400, a month out of range a 404 (api-contract.md 1.1)."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(MonthConverter, "month")

urlpatterns = [
    path(
        "firms/<int:firm_id>/summaries/<month:month>/",
        views.SummaryDetailView.as_view(),
        name="api-summary",
    ),
    path(
        "firms/<int:firm_id>/summaries/<month:month>/file/",
        views.SummaryFileView.as_view(),
        name="api-summary-file",
    ),
    path(
        "firms/<int:firm_id>/summaries/<month:month>/download/",
        views.SummaryDownloadView.as_view(),
        name="api-summary-download",
    ),
    path("reviews/", views.ReviewListView.as_view(), name="api-reviews"),
    path(
        "reviews/<int:pk>/decision/", views.ReviewDecisionView.as_view(), name="api-review-decision"
    ),
    path(
        "banks/<str:code>/portfolio/<month:month>/",
        views.BankPortfolioView.as_view(),
        name="api-bank-portfolio",
    ),
]
