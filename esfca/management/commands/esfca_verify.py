from django.core.management.base import BaseCommand, CommandError

from esfca.services.days import client_months_verify, receipt_days_verify
from esfca.services.tallies import receipt_tallies_verify


class Command(BaseCommand):
    help = (
        "Prove the regulation's stored figures equal a recompute from the movements "
        "(the receipt days behind every month's §2 position, the client months behind the "
        "dashboard, the receipt tallies behind every monthly summary)."
    )

    def handle(self, *args, **options):
        problems = receipt_days_verify() + client_months_verify() + receipt_tallies_verify()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"stored figures NOT consistent: {len(problems)} problems")
        self.stdout.write(self.style.SUCCESS("stored figures consistent with the movements"))
