from pathlib import Path

from django.db import migrations

# The SQL this migration ran, frozen beside it (its name ties it to this migration: a later
# change to the invariants is a new migration with its own file, never an edit of this one).
SQL = Path(__file__).with_name("0002_pg_invariants.pg.sql").read_text()


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # no params: '%' stays literal
            cursor.execute(SQL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS ledger_entry_zero_sum ON ledger_entry;"
            "DROP TRIGGER IF EXISTS ledger_entry_immutable ON ledger_entry;"
            "DROP TRIGGER IF EXISTS ledger_transaction_immutable ON ledger_transaction;"
            "DROP FUNCTION IF EXISTS ledger_check_zero_sum();"
            "DROP FUNCTION IF EXISTS ledger_refuse_change();"
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
