"""Progress of a receipts import (CSV/XLSX): the file, its rows, the dry-run report, the counts.

The upload keeps the file as it came, in pieces of ``ImportFilePiece.SIZE`` bytes, until the
import is done; the worker streams it (a piece at a time, from any machine that reaches the
database) and reads its rows as text (never floats) a chunk at a time, in the dry run and
again in the import: no job holds its rows. The services judge the rows. The dry run and
the import run in Celery tasks that update the counts as they go, so the page can poll a
progress bar.

Each start (or resume) is a new ``attempt``; a task acts only for its own attempt of a job
in a working state, so a task redelivered after its job was swept or started again does
nothing. The worker beats ``heartbeat_at`` while it works; a job whose beat stops is failed
by the sweeper (``esfca.imports.imports_sweep``) and can be resumed. An import keeps each
chunk's report lines (``ImportChunk``) and counts in the chunk's own transaction, so a
resumed import goes on after its last committed chunk with exact counts.
"""

from django.conf import settings
from django.db import models

from exporters.models import Firm


class ImportJob(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        CHECKING = "checking", "Checking (dry run)"
        CHECKED = "checked", "Checked"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    report = models.JSONField(default=list, blank=True, help_text="Per row: status and why")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    replayed = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)
    # --- resilience: who works on the job, and whether it is alive ---
    attempt = models.PositiveIntegerField(
        default=0, help_text="Each start or resume is a new attempt; an older task does nothing"
    )
    dry_run = models.BooleanField(
        default=True, help_text="The latest start was the dry run (what a resume starts again)"
    )
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job was sent, then its worker's last beat"
    )
    resumable = models.BooleanField(
        default=False, help_text="Failed for a reason other than the file: may be resumed"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(processed__lte=models.F("total")),
                name="importjob_processed_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.processed * 100 // self.total)


class ImportChunk(models.Model):
    """One committed chunk of an import: its report lines, written in the chunk's own
    transaction; gathered into the job's report when the import is done, then deleted."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    first_row = models.PositiveIntegerField(help_text="The file's row number of its first row")
    lines = models.JSONField(default=list)

    class Meta:
        ordering = ["job", "first_row"]
        constraints = [
            models.UniqueConstraint(fields=["job", "first_row"], name="importchunk_once"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: rows from {self.first_row}"


class ImportFilePiece(models.Model):
    """A piece of an import's file as uploaded: the file is its pieces in ``index`` order,
    each ``SIZE`` bytes but the last. Kept in the database (PostgreSQL or SQLite alike) so
    that a worker on any machine streams the file a piece at a time; deleted when the
    import is done or the file refused."""

    SIZE = 1 << 20

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="pieces")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="importfilepiece_once"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: piece {self.index}"
