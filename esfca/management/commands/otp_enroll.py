"""Enrol a user's second factor from the server's console (platform admins enrol this way):
prints the otpauth URI, the key, a QR code to scan from the terminal, and the recovery codes,
once."""

import io

import segno
from django.core.management.base import BaseCommand, CommandError

from esfca.second_factor import second_factor_enrol, second_factor_enrolled, totp_secret
from exporters.models import User


class Command(BaseCommand):
    help = (
        "Enrol USERNAME's second factor (TOTP: SHA1, 6 digits, 30 s) and print its otpauth URI "
        "and recovery codes, shown only now. --replace starts over for a user who has one."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--replace", action="store_true", help="replace an existing second factor"
        )
        parser.add_argument("--no-qr", action="store_true", help="do not draw the QR code")

    def handle(self, *args, username: str, replace: bool, no_qr: bool, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        if second_factor_enrolled(user) and not replace:
            raise CommandError(
                f"{username} has a second factor already; --replace gives a new one "
                "(the old device and recovery codes stop working)."
            )
        enrolment = second_factor_enrol(user=user, actor=None, via="otp_enroll")
        self.stdout.write(f"Second factor of {username}: add it to an authenticator app.")
        self.stdout.write(f"URI: {enrolment.uri}")
        self.stdout.write(
            f"Key: {totp_secret(enrolment.device)} (time-based, SHA1, 6 digits, 30 s)"
        )
        if not no_qr:
            drawing = io.StringIO()
            segno.make(enrolment.uri, error="m").terminal(out=drawing, compact=True)
            self.stdout.write(drawing.getvalue(), ending="")
        self.stdout.write("Recovery codes (each signs in once instead of a code; keep them safe):")
        for code in enrolment.recovery_codes:
            self.stdout.write(f"  {code}")
