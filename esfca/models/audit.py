"""The audit log: append-only and hash-chained (``esfca/audit.py`` writes it and proves it).

Rows fall into chains, one per firm and one for the platform (``chain`` 0: logins, users,
banks, rates). Within a chain each row has the next ``seq`` and a ``digest``: an HMAC, under
a key kept out of the database, of the chain's previous digest, the row's position and its
content. The chain's ``AuditHead`` holds its last position and digest, sealed by the same
key. Editing, deleting or inserting a row, or rewinding a head, breaks the chain where it
happened and ``manage.py audit_verify`` names the place. On PostgreSQL a trigger refuses any
UPDATE, DELETE or TRUNCATE of the rows, and the app's database role may only read and add
them (``manage.py db_app_role``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from exporters.models import Firm

PLATFORM_CHAIN = 0  # the chain of events without a firm (firm ids start at 1)


class AuditEvent(models.Model):
    """Who did what, when: written by every service in the same transaction as the change."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, null=True, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    details = models.JSONField(default=dict, blank=True)
    # Set before the digest is computed (``auto_now_add`` would overwrite it at the insert).
    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    chain = models.BigIntegerField(editable=False)  # the firm's id, or PLATFORM_CHAIN
    seq = models.BigIntegerField(editable=False)  # 1, 2, 3… within the chain
    digest = models.CharField(max_length=64, editable=False)  # hex HMAC-SHA256

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="auditevent_unique_chain_seq")
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit rows are written once and never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit rows are written once and never deleted.")


class AuditHead(models.Model):
    """Where a chain ends: its last ``seq`` and ``digest``, and a ``seal`` (an HMAC of both
    under the audit key) so that a head rewound to an earlier row is told apart. Locked
    (``SELECT … FOR UPDATE``) by whoever appends to the chain."""

    chain = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="")
    seal = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"audit chain {self.chain} at {self.seq}"
