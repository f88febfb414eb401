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
        summary = f"{report.accounts} accounts, {report.transactions} transactions checked"
        summary += "".join(f"; {n} {what} proved" for what, n in report.checked.items())
        if not report.ok:
            raise CommandError(f"ledger NOT consistent: {len(report.problems)} problems; {summary}")
        self.stdout.write(self.style.SUCCESS(f"ledger consistent: {summary}"))
