"""New receipts and their audit rows written by PostgreSQL's ``COPY`` (the import's bulk
path): the same rows ``receipt_record`` writes, formatted ahead of the flush."""

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from exporters.models import Firm
from ledger.posting import json_text
from ledger.posting.copy import copy_data, copy_into, next_ids

from ..audit import (
    CanonicalShape,
    audit_append,
    audit_event,
    audit_key,
    chain_extend,
    chain_lock,
    chain_of,
)
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
AUDIT_COLUMNS = [
    "actor_id", "firm_id", "action", "object_type", "object_id", "details", "at", "chain",
]  # fmt: skip


def _receipt_row(fields: dict, now) -> tuple:
    row = []
    for how, name in _RECEIPT_HOW:
        value = fields.get(name, _RECEIPT_DEFAULTS[name]) if how != "now" else now
        if how == "fk" and value is not None:
            value = value.pk
        row.append(value)
    return tuple(row)


@dataclass(frozen=True)
class AuditCopy:
    """Audit rows of one chain in ``COPY`` format but for their position and digest, which
    are only known under the chain's lock: each row's line (its columns up to ``chain``) and
    its canonical text (``audit.canonical``)."""

    chain: int
    lines: list[bytes]
    texts: list[bytes]

    def write(self) -> None:
        """Chain the rows after the chain's head (locked until the transaction ends), write
        them and move the head."""
        head = chain_lock(self.chain)
        chained = chain_extend(head, self.texts, audit_key())
        data = b"".join(
            [
                b"%s\t%d\t%s\n" % (line, seq, digest)
                for line, (seq, digest) in zip(self.lines, chained, strict=True)
            ]
        )
        copy_into(AuditEvent, ["id", *AUDIT_COLUMNS, "seq", "digest"], data)
        head.save(update_fields=["seq", "digest", "seal"])


@dataclass(frozen=True)
class ReceiptsCopy:
    """New receipts in ``COPY`` format and their audit rows, ids taken."""

    receipts: bytes
    audits: AuditCopy


def receipts_audit_copy(firm: Firm, actor, new: list, now) -> AuditCopy:
    """The ``receipt_recorded`` rows of new receipts (ids set), as ``audit`` would write
    them: the same content, so the same canonical text."""
    template = audit_event(actor, firm, "receipt_recorded", Receipt(), reference="")
    template.at, template.chain = now, chain_of(firm.pk)
    shape = CanonicalShape(template)
    ids = next_ids(AuditEvent, len(new))
    details = [f'{{"reference":{json_text(n.fields["reference"])}}}' for n in new]
    texts = [shape.text(str(n.pk), detail).encode() for n, detail in zip(new, details, strict=True)]
    shared = (template.actor_id, template.firm_id, template.action, template.object_type)
    rows = (
        (audit_id, *shared, str(n.pk), detail, now, template.chain)  # jsonb reads the text
        for audit_id, n, detail in zip(ids, new, details, strict=True)
    )
    lines = copy_data(rows).split(b"\n")[:-1]  # a value's newline is escaped: one per row
    return AuditCopy(chain=template.chain, lines=lines, texts=texts)


def receipts_copy(firm: Firm, actor, new: list) -> ReceiptsCopy:
    """Ids for new receipts (``NewReceipt``s, their transactions set) and their audit rows,
    both formatted as ``receipt_record`` would write them (one insert time for all)."""
    now = timezone.now()
    for n, pk in zip(new, next_ids(Receipt, len(new)), strict=True):
        n.pk = pk
    return ReceiptsCopy(
        receipts=copy_data((n.pk, *_receipt_row(n.fields, now)) for n in new),
        audits=receipts_audit_copy(firm, actor, new, now),
    )


def receipts_copy_write(data: ReceiptsCopy) -> None:
    """Constraints and triggers apply to ``COPY`` as to ``INSERT``; the firm is locked."""
    copy_into(Receipt, ["id", *RECEIPT_COLUMNS], data.receipts)
    data.audits.write()


def receipts_insert(firm: Firm, actor, new: list) -> None:
    """The receipt and audit rows of a flush, as ``receipt_record`` would write them."""
    if connection.vendor != "postgresql":
        receipts = Receipt.objects.bulk_create([Receipt(**n.fields) for n in new])
        for n, receipt in zip(new, receipts, strict=True):
            n.pk = receipt.pk
        audit_append(
            [
                audit_event(actor, firm, "receipt_recorded", r, reference=r.reference)
                for r in receipts
            ]
        )
        return
    receipts_copy_write(receipts_copy(firm, actor, new))
