import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ledger.fx.services import IMPORTABLE_SOURCES, How, RateWriter, fx_import_csv


class Command(BaseCommand):
    help = (
        "Import dated rates from a CSV with the columns date,currency,buy,sell (PKR per unit). "
        "Idempotent; bad lines are reported and skipped. Every rate stored is audited as "
        "uploaded by this command, with the system user who ran it."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", default="SBP-WACR", choices=IMPORTABLE_SOURCES)
        parser.add_argument("--dry-run", action="store_true", help="report only, store nothing")

    def handle(self, *args, path, source, dry_run, **options):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        by = RateWriter(How.COMMAND, label=f"{_system_user()} ran fx_import_csv {path.name}")
        report = fx_import_csv(text=text, source=source, dry_run=dry_run, by=by)
        for line, outcome, message in report.lines:
            stream = self.stderr if outcome in ("error", "conflict") else self.stdout
            stream.write(f"line {line}: {outcome}{': ' + message if message else ''}")
        counts = ", ".join(
            f"{report.count(o)} {o}"
            for o in ("created", "held", "updated", "unchanged", "conflict", "error")
        )
        prefix = "DRY RUN, nothing stored: " if dry_run else ""
        self.stdout.write(f"{prefix}{source}: {counts}")
        if not report.ok:
            raise CommandError("Some lines were not imported (see above).")


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "an unknown system user"
