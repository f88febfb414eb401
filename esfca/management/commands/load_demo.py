"""Demo data for the embedded default. Deterministic and idempotent."""

from django.core.management.base import BaseCommand

from esfca.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load deterministic demo data: banks, six exporters, 18 months of receipts."

    def handle(self, *args, **options):
        self.stdout.write("Loading demo data (idempotent: a second run adds nothing)…")
        logins = load_demo(stdout=self.stdout)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (every password: {DEMO_PASSWORD}):")
        for username, what in logins:
            self.stdout.write(f"  {username:<22} {what}")
        self.stdout.write(
            "Bank reviewers and the admin set up a second factor (a TOTP authenticator app) "
            "at their first sign-in."
        )
