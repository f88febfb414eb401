from django.core.management.base import BaseCommand, CommandError

from esfca.audit_verify import audit_verify


class Command(BaseCommand):
    help = (
        "Prove the audit log was neither edited nor cut nor added to: every chain's rows "
        "and head checked against the audit key."
    )

    def handle(self, *args, **options):
        report = audit_verify()
        for problem in report.problems:
            self.stderr.write(problem)
        summary = f"{report.rows} rows in {report.chains} chains checked"
        if not report.ok:
            raise CommandError(f"audit log NOT intact: {len(report.problems)} problems; {summary}")
        self.stdout.write(self.style.SUCCESS(f"audit log intact: {summary}"))
