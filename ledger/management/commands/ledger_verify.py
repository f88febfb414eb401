from django.core.management.base import BaseCommand, CommandError

from ledger.verify import ledger_verify


class Command(BaseCommand):
    help = (
        "Prove every stored balance equals its entries, every transaction balances, and "
        "every movement's figures are its entries."
    )

    def handle(self, *args, **options):
        report = ledger_verify()
        for problem in report.problems:
            self.stderr.write(problem)
        counts = [f"{report.accounts} accounts", f"{report.transactions} transactions"]
        counts += [f"{n} {what}" for what, n in report.checked.items()]
        summary = ", ".join(counts) + " checked"
        if not report.ok:
            raise CommandError(f"ledger NOT consistent: {len(report.problems)} problems; {summary}")
        self.stdout.write(self.style.SUCCESS(f"ledger consistent: {summary}"))
