"""Fail the import jobs whose worker stopped (no heartbeat for ESFCA_IMPORT_STALE_SECONDS),
as beat does every minute; each can then be resumed from its page."""

from django.core.management.base import BaseCommand

from esfca.imports import imports_sweep


class Command(BaseCommand):
    help = "Fail the import jobs whose worker stopped, so that they can be resumed."

    def handle(self, *args, **options):
        swept = imports_sweep()
        ids = ", ".join(map(str, swept)) or "none"
        self.stdout.write(f"{len(swept)} import job(s) failed as stopped: {ids}")
