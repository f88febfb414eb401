from pathlib import Path

from django.db import migrations

# The SQL this migration ran, frozen beside it, and what undoing it restores: the SQL of
# migration 0002, from that migration's own frozen file.
SQL = Path(__file__).with_name("0004_zero_sum_per_transaction.pg.sql").read_text()
PREVIOUS = Path(__file__).with_name("0002_pg_invariants.pg.sql").read_text()


def _run(schema_editor, sql):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # no params: '%' stays literal
            cursor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, SQL)


def backwards(apps, schema_editor):
    _run(
        schema_editor,
        "DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;"
        "DROP FUNCTION IF EXISTS ledger_check_transaction_balanced();" + PREVIOUS,
    )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_fxrefreshlog")]
    operations = [migrations.RunPython(forwards, backwards)]
