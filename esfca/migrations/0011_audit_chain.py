import django.utils.timezone
from django.db import migrations, models


def chain_existing_rows(apps, schema_editor):
    """Rows written before the chains: appended to their chains in the order written (by
    id), with today's digest (``esfca.audit``; a later change of the digest is a migration
    of its own), and each chain's head written and sealed."""
    from esfca.audit import audit_key, canonical, chain_of, row_digest, seal_of

    AuditEvent = apps.get_model("esfca", "AuditEvent")
    AuditHead = apps.get_model("esfca", "AuditHead")
    key, heads, pending = audit_key(), {}, []
    fields = ["id", "actor_id", "firm_id", "action", "object_type", "object_id", "details", "at"]
    for row in AuditEvent.objects.order_by("id").values(*fields).iterator(chunk_size=2000):
        chain = chain_of(row["firm_id"])
        seq, previous = heads.get(chain, (0, ""))
        digest = row_digest(key, previous, seq + 1, canonical(**row, chain=chain))
        heads[chain] = (seq + 1, digest)
        pending.append(AuditEvent(id=row["id"], chain=chain, seq=seq + 1, digest=digest))
        if len(pending) >= 2000:
            AuditEvent.objects.bulk_update(pending, ["chain", "seq", "digest"])
            pending = []
    AuditEvent.objects.bulk_update(pending, ["chain", "seq", "digest"])
    AuditHead.objects.bulk_create(
        AuditHead(chain=chain, seq=seq, digest=digest, seal=seal_of(key, chain, seq, digest))
        for chain, (seq, digest) in heads.items()
    )


class Migration(migrations.Migration):
    dependencies = [("esfca", "0010_importjob_data")]

    operations = [
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                ("chain", models.BigIntegerField(primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField(default=0)),
                ("digest", models.CharField(default="", max_length=64)),
                ("seal", models.CharField(default="", max_length=64)),
            ],
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="digest",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
    ]
