"""Django's ``createsuperuser``, with the password validators also in ``--noinput`` mode.

Django checks a password typed at the prompt but takes ``DJANGO_SUPERUSER_PASSWORD`` as it
is; the README's production set-up uses that variable, so it is checked here the same way.
(This app is listed before ``django.contrib.auth`` in INSTALLED_APPS so this command wins.)
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password is not None:
            model = get_user_model()
            probe = model(
                **{
                    field: options.get(field) or os.environ.get(f"DJANGO_SUPERUSER_{field.upper()}")
                    for field in (model.USERNAME_FIELD, *model.REQUIRED_FIELDS)
                }
            )
            try:
                validate_password(password, probe)
            except ValidationError as exc:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD is too weak: " + " ".join(exc.messages)
                ) from exc
        return super().handle(*args, **options)
