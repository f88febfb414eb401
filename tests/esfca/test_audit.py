"""The audit log: hash-chained row to row, per firm and for the platform; audit_verify
names any row edited, deleted or inserted and any head rewound; PostgreSQL refuses to
change or remove a row whoever asks."""

import importlib
import json
from datetime import date
from decimal import Decimal as D

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection, connections, transaction
from django.db.utils import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from esfca.audit import (
    REMOVED,
    CanonicalShape,
    audit,
    audit_event,
    audit_key,
    chain_extend,
    event_canonical,
    row_digest,
)
from esfca.audit_verify import audit_verify
from esfca.models import PLATFORM_CHAIN, AuditEvent, AuditHead, Receipt
from esfca.services import receipts_record_many
from tests.exporters.factories import BankFactory, FirmFactory, UserFactory

from .conftest import open_firm, set_rate

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("require_postgresql", "audit_tampered_on_purpose"),
]
TODAY = date(2025, 11, 30)


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def as_superuser_past_the_trigger():
    """What a holder of the superuser (or the tables' owner) can do: triggers off for the
    rest of the test's transaction."""
    sql("SET LOCAL session_replication_role = replica")


def events(count, firm=None):
    user = UserFactory()
    return [audit(user, firm, "thing_done", user, n=n) for n in range(count)]


def problems():
    report = audit_verify()
    assert not report.ok
    return report.problems


def test_rows_are_chained_per_firm_and_for_the_platform():
    firm_a, firm_b = FirmFactory(), FirmFactory()
    events(3, firm_a), events(2, firm_b), events(2)
    for firm in (firm_a, firm_b):
        seqs = list(AuditEvent.objects.filter(firm=firm).order_by("seq").values_list("seq"))
        assert seqs == [(n,) for n in range(1, len(seqs) + 1)]
        head = AuditHead.objects.get(chain=firm.pk)
        last = AuditEvent.objects.get(chain=firm.pk, seq=head.seq)
        assert (head.digest, last.firm_id) == (last.digest, firm.pk)
    platform = AuditEvent.objects.filter(firm=None)
    assert set(platform.values_list("chain", flat=True)) == {PLATFORM_CHAIN}
    report = audit_verify()
    assert report.ok, report.problems
    assert report.rows == AuditEvent.objects.count() and report.chains == 3


def test_a_digest_is_the_hmac_of_the_previous_digest_the_position_and_the_content():
    firm = FirmFactory()
    first, second = events(2, firm)[-2:]
    key = audit_key()
    assert second.digest == row_digest(key, first.digest, second.seq, event_canonical(second))
    other_key = bytes(32)
    assert second.digest != row_digest(other_key, first.digest, second.seq, event_canonical(second))
    assert '"details":{"n":1}' in event_canonical(second)


@settings(max_examples=40, deadline=None)
@given(references=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5))
def test_the_imports_texts_and_chaining_equal_the_general_ones(references):
    firm = FirmFactory.build(pk=7)
    template = audit_event(None, firm, "receipt_recorded", Receipt(), reference="")
    template.chain = firm.pk
    shape = CanonicalShape(template)
    head = AuditHead(chain=firm.pk, seq=4, digest="ab" * 32)
    texts, previous = [], head.digest
    for n, reference in enumerate(references):
        row = audit_event(None, firm, "receipt_recorded", Receipt(pk=100 + n), reference=reference)
        row.at, row.chain = template.at, firm.pk
        fast = shape.text(str(100 + n), json.dumps({"reference": reference}, separators=(",", ":")))
        assert fast == event_canonical(row)
        texts.append(fast.encode())
        previous = row_digest(audit_key(), previous, 5 + n, fast)
    chained = list(chain_extend(head, texts, audit_key()))
    assert chained[-1] == (4 + len(references), previous.encode())
    assert (head.seq, head.digest) == (4 + len(references), previous)


def test_secrets_never_reach_a_row():
    user = UserFactory()
    event = audit(user, None, "odd", user, password="hunter2", api_token="x", otp_secret="y", a=1)
    assert event.details == {
        "password": REMOVED,
        "api_token": REMOVED,
        "otp_secret": REMOVED,
        "a": 1,
    }


def test_an_edited_row_is_named():
    firm = FirmFactory()
    target = events(4, firm)[1]
    as_superuser_past_the_trigger()
    sql("UPDATE esfca_auditevent SET details = '{\"n\": 99}' WHERE id = %s", [target.pk])
    found = problems()
    assert len(found) == 1
    assert found[0].startswith(f"audit row {target.pk} (chain {firm.pk}, position {target.seq})")
    assert "does not match its content" in found[0]
    with pytest.raises(CommandError, match="audit log NOT intact: 1 problems"):
        call_command("audit_verify")


def test_a_deleted_middle_row_is_found():
    firm = FirmFactory()
    rows = events(4, firm)
    as_superuser_past_the_trigger()
    sql("DELETE FROM esfca_auditevent WHERE id = %s", [rows[2].pk])
    missing = rows[2].seq
    assert problems() == [
        f"audit chain {firm.pk}: positions {missing} to {missing} are missing (rows deleted)"
    ]


def test_a_forged_row_is_found_wherever_it_goes():
    firm = FirmFactory()
    rows = events(3, firm)
    as_superuser_past_the_trigger()
    forged = (
        "INSERT INTO esfca_auditevent (actor_id, firm_id, action, object_type, object_id, "
        "details, at, chain, seq, digest) SELECT actor_id, firm_id, 'receipt_recorded', "
        "object_type, object_id, details, at, chain, %s, %s FROM esfca_auditevent WHERE id = %s"
    )
    # At the end, the head moved to it with a digest made up: no key, no valid digest.
    sql(forged, [rows[-1].seq + 1, "0" * 64, rows[-1].pk])
    sql(
        "UPDATE esfca_audithead SET seq = seq + 1, digest = %s WHERE chain = %s",
        ["0" * 64, firm.pk],
    )
    found = problems()
    assert any("does not match its content" in p and "receipt_recorded" in p for p in found)
    assert any("not sealed by the audit key" in p for p in found)


def test_a_row_copied_into_the_middle_is_found():
    firm = FirmFactory()
    rows = events(3, firm)
    as_superuser_past_the_trigger()
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("ALTER TABLE esfca_auditevent DROP CONSTRAINT auditevent_unique_chain_seq")
    sql(
        "INSERT INTO esfca_auditevent (actor_id, firm_id, action, object_type, object_id, "
        "details, at, chain, seq, digest) SELECT actor_id, firm_id, action, object_type, "
        "object_id, details, at, chain, %s, digest FROM esfca_auditevent WHERE id = %s",
        [rows[1].seq, rows[0].pk],
    )
    assert any("a second row at this position (a row inserted)" in p for p in problems())


def test_the_tail_cut_and_the_head_rewound_without_the_key_is_found():
    firm = FirmFactory()
    rows = events(4, firm)
    as_superuser_past_the_trigger()
    sql("DELETE FROM esfca_auditevent WHERE id = ANY(%s)", [[r.pk for r in rows[-2:]]])
    kept = rows[-3]
    sql(
        "UPDATE esfca_audithead SET seq = %s, digest = %s WHERE chain = %s",
        [kept.seq, kept.digest, firm.pk],
    )
    assert problems() == [
        f"audit chain {firm.pk}: its head (position {kept.seq}) is not sealed by the audit "
        f"key (rewound or forged)"
    ]


def test_the_tail_cut_with_the_head_left_is_found():
    firm = FirmFactory()
    rows = events(3, firm)
    as_superuser_past_the_trigger()
    sql("DELETE FROM esfca_auditevent WHERE id = %s", [rows[-1].pk])
    assert problems() == [
        f"audit chain {firm.pk}: its head is at position {rows[-1].seq} but the last row is "
        f"at {rows[-2].seq} (rows at the end deleted)"
    ]


def test_another_key_fails_every_row_and_says_so(settings):
    events(2, FirmFactory())
    settings.AUDIT_KEY = "another key entirely"
    assert "is ESFCA_AUDIT_KEY" in problems()[-1]


def test_the_command_prints_a_summary_when_intact(capsys):
    events(2, FirmFactory())
    call_command("audit_verify")
    rows = AuditEvent.objects.count()
    assert f"audit log intact: {rows} rows in" in capsys.readouterr().out


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE esfca_auditevent SET details = '{}'",
        "DELETE FROM esfca_auditevent",
        "TRUNCATE esfca_auditevent CASCADE",
    ],
)
def test_postgresql_refuses_to_change_or_remove_a_row_even_for_the_owner(statement):
    events(2, FirmFactory())
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match="the audit log is append-only"), transaction.atomic():
        sql(statement)
    with pytest.raises(TypeError):
        AuditEvent.objects.first().save()
    with pytest.raises(TypeError):
        AuditEvent.objects.first().delete()


def test_the_imports_rows_by_copy_are_chained_with_the_others():
    day = date(2025, 11, 4)
    set_rate("USD", day, "280.0000")
    firm = open_firm()
    audit(None, firm, "before_the_import", firm)
    rows = [
        {
            "reference": f"IMP-{n}", "value_date": day, "amount": D("100.00"), "currency": "USD",
            "client_name": "Client \"quoted\" — ünïcode", "client_country": "US",
            "purpose_code": "9184",
        }
        for n in range(30)
    ]  # fmt: skip
    outcomes = receipts_record_many(firm=firm, actor=UserFactory(), rows=rows, today=TODAY)
    assert all(o.created for o in outcomes)
    audit(None, firm, "after_the_import", firm)
    chain = AuditEvent.objects.filter(chain=firm.pk).order_by("seq")
    actions = list(chain.values_list("action", flat=True))
    assert actions[-32:] == ["before_the_import", *["receipt_recorded"] * 30, "after_the_import"]
    assert audit_verify().ok


def test_the_migration_chains_rows_written_before_the_chains():
    firm = FirmFactory()
    events(3, firm), events(2), BankFactory()
    before = dict(AuditEvent.objects.values_list("id", "digest"))
    as_superuser_past_the_trigger()  # as the rows were: no position, no digest, no heads
    sql("UPDATE esfca_auditevent SET chain = -id, seq = -id, digest = ''")
    sql("DELETE FROM esfca_audithead")
    migration = importlib.import_module("esfca.migrations.0011_audit_chain")
    migration.chain_existing_rows(apps, None)
    assert audit_verify().ok
    assert dict(AuditEvent.objects.values_list("id", "digest")) == before  # same order: by id


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_chain_serialise_on_its_head():
    """The head stays locked until its writer commits: another writer waits for it (here
    refused at once, NOWAIT), so two rows never take one position."""
    firm = FirmFactory()
    other = connections.create_connection("default")
    try:
        with transaction.atomic():
            audit(None, firm, "holding_the_head", firm)
            with other.cursor() as cursor, pytest.raises(OperationalError, match="lock"):
                cursor.execute(
                    "SELECT 1 FROM esfca_audithead WHERE chain = %s FOR UPDATE NOWAIT", [firm.pk]
                )
    finally:
        other.close()
    assert audit_verify().ok


def test_the_append_only_migration_runs_the_sql_it_always_ran():
    """Frozen as the ledger's: a change of the trigger is a new migration with its file."""
    import hashlib

    sql_text = importlib.import_module("esfca.migrations.0012_audit_append_only").SQL
    assert hashlib.sha256(sql_text.encode()).hexdigest() == (
        "1c4f49386fba21ac4dd300a2c2265952f3b31d6bbc7cf20620ae1dc76f7ac674"
    )
