from django.apps import AppConfig


class EsfcaConfig(AppConfig):
    name = "esfca"
    verbose_name = "ESFCA"

    def ready(self):
        # Celery's autodiscovery looks in esfca/tasks.py only; the import tasks live beside
        # the import code, so register them here.
        from . import imports  # noqa: F401
        from .security import connect

        connect()  # security events in the audit log

        from ledger.verify import ledger_proof_register

        from .verify import movements_verify

        ledger_proof_register(movements_verify)  # ledger_verify: movements are their entries
