from django.apps import AppConfig


class EsfcaConfig(AppConfig):
    name = "esfca"
    verbose_name = "ESFCA"

    def ready(self):
        # Celery's autodiscovery looks in esfca/tasks.py only; the import tasks live beside
        # the import code, so register them here.
        from . import imports  # noqa: F401

        # Rates written or decided in the ledger become audit rows here (rules.md §10).
        from .rate_audit import connect as connect_rate_audit

        connect_rate_audit()
