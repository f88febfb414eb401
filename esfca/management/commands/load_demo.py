"""Demo data for the embedded default. Deterministic and idempotent."""

from django.core.management.base import BaseCommand
from django.db import transaction

from exporters.models import Bank, User

DEMO_PASSWORD = "demo-password-2025"
BANKS = [
    ("SCBL", "Standard Chartered Bank (Pakistan)"),
    ("HABB", "Habib Bank Limited"),
    ("MEZN", "Meezan Bank"),
]


class Command(BaseCommand):
    help = "Load deterministic demo data (banks, firms, users, 18 months of receipts)."

    @transaction.atomic
    def handle(self, *args, **options):
        for code, name in BANKS:
            Bank.objects.update_or_create(code=code, defaults={"name": name})
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save(update_fields=["password"])
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        self.stdout.write("  admin           platform admin (Django admin at /admin/)")
