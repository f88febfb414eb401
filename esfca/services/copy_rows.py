"""New receipts and their audit rows written by PostgreSQL's ``COPY`` (the import's bulk
path): the same rows ``receipt_record`` writes, formatted ahead of the flush."""

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from exporters.models import Firm
from ledger.posting import json_text
from ledger.posting.copy import copy_data, copy_into, next_ids

from ..audit import audit_event
from ..models import AuditEvent, Receipt


def _receipt_copy_plan() -> tuple[list[str], list[tuple[str, str]]]:
    """Receipt's columns after the id, and how each is read from the judged fields:
    ``("fk", name)`` the related object's id, ``("now", name)`` the insert time,
    ``("value", name)`` the value as is (Decimal, date, str or None: sent unchanged)."""
    columns, how = [], []
    for model_field in Receipt._meta.concrete_fields:
        if model_field.primary_key:
            continue
        columns.append(model_field.attname)
        if model_field.is_relation:
            how.append(("fk", model_field.name))
        elif getattr(model_field, "auto_now_add", False):
            how.append(("now", model_field.name))
        else:
            how.append(("value", model_field.name))
    return columns, how


RECEIPT_COLUMNS, _RECEIPT_HOW = _receipt_copy_plan()
# A new receipt's fields a judgement does not set (a reversal's links, its reason).
_RECEIPT_DEFAULTS = {f.name: f.get_default() for f in Receipt._meta.concrete_fields}
AUDIT_COLUMNS = ["actor_id", "firm_id", "action", "object_type", "object_id", "details", "at"]


def _receipt_row(fields: dict, now) -> tuple:
    row = []
    for how, name in _RECEIPT_HOW:
        value = fields.get(name, _RECEIPT_DEFAULTS[name]) if how != "now" else now
        if how == "fk" and value is not None:
            value = value.pk
        row.append(value)
    return tuple(row)


@dataclass(frozen=True)
class ReceiptsCopy:
    """New receipts and their audit rows in ``COPY`` format, ids taken."""

    receipts: bytes
    audits: bytes


def receipts_copy(firm: Firm, actor, new: list) -> ReceiptsCopy:
    """Ids for new receipts (``NewReceipt``s, their transactions set) and their audit rows,
    both formatted as ``receipt_record`` would write them (one insert time for all)."""
    now = timezone.now()
    for n, pk in zip(new, next_ids(Receipt, len(new)), strict=True):
        n.pk = pk
    # What every receipt's audit row shares, as audit_event builds it.
    template = audit_event(actor, firm, "receipt_recorded", Receipt(), reference="")
    audits = (
        (
            audit_id,
            template.actor_id,
            template.firm_id,
            template.action,
            template.object_type,
            str(n.pk),
            f'{{"reference": {json_text(n.fields["reference"])}}}',  # jsonb reads the text
            now,
        )
        for audit_id, n in zip(next_ids(AuditEvent, len(new)), new, strict=True)
    )
    return ReceiptsCopy(
        receipts=copy_data((n.pk, *_receipt_row(n.fields, now)) for n in new),
        audits=copy_data(audits),
    )


def receipts_copy_write(data: ReceiptsCopy) -> None:
    """Constraints and triggers apply to ``COPY`` as to ``INSERT``."""
    copy_into(Receipt, ["id", *RECEIPT_COLUMNS], data.receipts)
    copy_into(AuditEvent, ["id", *AUDIT_COLUMNS], data.audits)


def receipts_insert(firm: Firm, actor, new: list) -> None:
    """The receipt and audit rows of a flush, as ``receipt_record`` would write them."""
    if connection.vendor != "postgresql":
        receipts = Receipt.objects.bulk_create([Receipt(**n.fields) for n in new])
        for n, receipt in zip(new, receipts, strict=True):
            n.pk = receipt.pk
        AuditEvent.objects.bulk_create(
            audit_event(actor, firm, "receipt_recorded", r, reference=r.reference) for r in receipts
        )
        return
    receipts_copy_write(receipts_copy(firm, actor, new))
