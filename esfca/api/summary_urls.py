"""Routes of the monthly summary and review endpoints (filled in by the summaries work)."""

urlpatterns = []
