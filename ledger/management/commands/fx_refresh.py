from django.core.management.base import BaseCommand, CommandError

from ledger.fx.providers import PROVIDERS, configured_providers
from ledger.fx.services import fx_refresh


class Command(BaseCommand):
    help = "Fetch exchange rates now from every configured provider (or one), in this process."

    def add_arguments(self, parser):
        parser.add_argument("--provider", choices=sorted(PROVIDERS), help="only this provider")

    def handle(self, *args, provider=None, **options):
        names = [provider] if provider else configured_providers()
        if not names:
            raise CommandError("No FX provider is configured (FX_FEED_URL / ECB_FEED_URL).")
        failed = []
        for name in names:  # one failing provider never stops the next
            log = fx_refresh(provider=name)
            if log.ok:
                self.stdout.write(
                    f"{name}: {log.rate_date} — {log.created} new ({log.held} held), "
                    f"{log.updated} updated, {log.unchanged} unchanged. {log.message}".rstrip()
                )
            else:
                failed.append(name)
                kind = "transient" if log.retryable else "permanent"
                self.stderr.write(f"{name}: FAILED ({kind}), nothing stored: {log.message}")
        if failed:
            raise CommandError(f"FX refresh failed for {', '.join(failed)}.")
