from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_save


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

        from .tokens import tokens_revoke_on_password_change

        # A changed password revokes the user's API tokens, whichever page or command set it.
        pre_save.connect(
            tokens_revoke_on_password_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="esfca.tokens.revoke_on_password_change",
        )

        from .security import connect

        connect()  # security events in the audit log

        from ledger.verify import ledger_proof_register

        from .verify import movements_verify

        ledger_proof_register(movements_verify)  # ledger_verify: movements are their entries
