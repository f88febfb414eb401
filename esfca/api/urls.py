"""Routes of the API, version 1 (mounted at ``api/v1/`` by config/urls.py)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import (
    schema,  # noqa: F401  (registers the OpenAPI names of our authentication)
    views,
)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",  # the split view: no inline script (Content-Security-Policy)
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="esfca/api_docs.html"
        ),
        name="api-docs",
    ),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("banks/", views.BanksView.as_view(), name="api-banks"),
    path("firms/", views.FirmsView.as_view(), name="api-firms"),
    path("firms/<int:pk>/", views.FirmDetailView.as_view(), name="api-firm"),
    path("firms/<int:pk>/accounts/", views.FirmAccountsView.as_view(), name="api-accounts"),
    path("firms/<int:pk>/balances/", views.FirmBalancesView.as_view(), name="api-balances"),
    path("firms/<int:pk>/receipts/", views.FirmReceiptsView.as_view(), name="api-receipts"),
    path(
        "firms/<int:pk>/allocations/", views.FirmAllocationsView.as_view(), name="api-allocations"
    ),
    path(
        "firms/<int:pk>/conversions/", views.FirmConversionsView.as_view(), name="api-conversions"
    ),
    path("firms/<int:pk>/transfers/", views.FirmTransfersView.as_view(), name="api-transfers"),
    *(
        path(f"firms/<int:pk>/{e.plural}/<int:{e.id_kwarg}>/{action}", view.as_view(), name=name)
        for e in views.MOVEMENT_ENDPOINTS
        for action, view, name in (
            ("", e.detail, f"api-{e.plural}-detail"),
            ("reverse/", e.reverse, f"api-{e.plural}-reverse"),
            ("correct/", e.correct, f"api-{e.plural}-correct"),
        )
    ),
    path("users/", views.UsersView.as_view(), name="api-users"),
    path("fx-rates/", views.FxRatesView.as_view(), name="api-fx-rates"),
    path("fx-rates/<int:pk>/approve/", views.FxRateApproveView.as_view(), name="api-fx-approve"),
    path("fx-rates/<int:pk>/reject/", views.FxRateRejectView.as_view(), name="api-fx-reject"),
    # Monthly summaries, filing, downloads and bank reviews (esfca/api/summary_views.py).
    path("", include("esfca.api.summary_urls")),
]
