"""Import files kept in pieces that a worker streams (issue 15, memory), instead of the
file as one value (``data``) and its rows as JSON (``rows``). A job not done keeps its
file: its bytes as pieces, or, read already, its rows written back as a CSV file."""

import csv
import io

import django.db.models.deletion
from django.db import migrations, models

PIECE = 1 << 20
COLUMNS = [
    "reference", "value_date", "amount", "currency", "retain", "conversion_rate",
    "client_name", "client_country", "purpose_code", "bank",
]  # fmt: skip


def files_to_pieces(apps, schema_editor):
    ImportJob = apps.get_model("esfca", "ImportJob")
    ImportFilePiece = apps.get_model("esfca", "ImportFilePiece")
    for job in ImportJob.objects.exclude(status="done").iterator(chunk_size=1):
        data = bytes(job.data)
        if not data and job.rows:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows([row.get(name, "") for name in COLUMNS] for row in job.rows)
            data = out.getvalue().encode()
            name = job.filename.rpartition(".")[0] or "file"
            job.filename = f"{name}.csv"[:200]
            job.save(update_fields=["filename"])
        for index, start in enumerate(range(0, len(data), PIECE)):
            ImportFilePiece.objects.create(job=job, index=index, data=data[start : start + PIECE])


class Migration(migrations.Migration):
    dependencies = [
        ("esfca", "0015_receipt_tallies"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportFilePiece",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("index", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                ("job", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="pieces", to="esfca.importjob")),
            ],
            options={
                "ordering": ["job", "index"],
                "constraints": [models.UniqueConstraint(fields=("job", "index"), name="importfilepiece_once")],
            },
        ),
        migrations.RunPython(files_to_pieces, migrations.RunPython.noop),
        migrations.RemoveField(model_name="importjob", name="data"),
        migrations.RemoveField(model_name="importjob", name="rows"),
    ]  # fmt: skip
