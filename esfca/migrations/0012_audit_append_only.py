from pathlib import Path

from django.db import migrations, models

# The SQL this migration ran, frozen beside it (a later change is a new migration with its
# own file, never an edit of this one).
SQL = Path(__file__).with_name("0012_audit_append_only.pg.sql").read_text()


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # no params: '%' stays literal
            cursor.execute(SQL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS esfca_auditevent_no_truncate ON esfca_auditevent;"
            "DROP TRIGGER IF EXISTS esfca_auditevent_append_only ON esfca_auditevent;"
            "DROP FUNCTION IF EXISTS esfca_audit_refuse_change();"
        )


class Migration(migrations.Migration):
    dependencies = [("esfca", "0011_audit_chain")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="chain",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="digest",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="auditevent_unique_chain_seq"
            ),
        ),
        migrations.RunPython(install, uninstall),
    ]
