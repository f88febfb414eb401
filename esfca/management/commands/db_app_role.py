"""The grants of the role the app runs as (PostgreSQL): rows read and written, nothing
owned. Run as the tables' owner after every ``migrate`` (new tables need their grants)."""

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from esfca.models import AuditEvent, AuditHead
from ledger.models import Entry, Transaction

# Written once, never changed: the app may read and add rows, not update, delete or truncate.
APPEND_ONLY = (AuditEvent, Entry, Transaction)
KEPT = (AuditHead,)  # moved on, never removed (a head deleted would stop its chain's writes)
READ_ONLY = ("django_migrations",)  # migrations run as the owner
ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def app_role_grants(role: str) -> list[str]:
    """The statements, from the tables in the database now: every privilege taken back,
    then SELECT/INSERT/UPDATE/DELETE on the tables, only SELECT/INSERT on the append-only
    ones, no DELETE of the audit chains' heads, only SELECT on the migrations' table, and
    the sequences' USAGE (ids taken ahead for COPY)."""
    quote = connection.ops.quote_name
    who = quote(role)
    tables = sorted(connection.introspection.table_names())
    append_only = {model._meta.db_table for model in APPEND_ONLY}
    kept = {model._meta.db_table for model in KEPT}
    rest = [t for t in tables if t not in append_only | kept and t not in READ_ONLY]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    schema = quote(schema)
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(map(quote, rest))} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE ON {', '.join(map(quote, sorted(kept)))} TO {who}",
        f"GRANT SELECT, INSERT ON {', '.join(map(quote, sorted(append_only)))} TO {who}",
        f"GRANT SELECT ON {', '.join(quote(t) for t in READ_ONLY if t in tables)} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
    ]


class Command(BaseCommand):
    help = (
        "Print (or --apply, as the tables' owner) the grants of the database role the app "
        "runs as: it may read and write rows but owns no table, so it can neither disable "
        "a trigger nor rewrite the audit log or the ledger."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the app's database role (it must exist)")
        parser.add_argument("--apply", action="store_true", help="run the statements")

    def handle(self, *args, role, apply, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are PostgreSQL's: DATABASE_URL is not PostgreSQL.")
        if not ROLE.fullmatch(role):
            raise CommandError("Give the role's name in lower case letters, digits and _.")
        statements = app_role_grants(role)
        if not apply:
            self.stdout.write(";\n".join(statements) + ";")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(self.style.SUCCESS(f"{role}: grants applied to {connection.alias}"))
