"""The app's database role (``manage.py db_app_role``): every write the app makes works,
and nothing it could do rewrites history: no trigger disabled, no audit row or ledger
entry changed or removed, no table truncated."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from esfca.audit_verify import audit_verify
from esfca.models import AuditEvent, Receipt
from esfca.services import receipts_record_many
from esfca.summaries.services import summary_file
from exporters.services import user_create
from ledger.verify import ledger_verify

from .conftest import open_firm, set_rate
from .test_allocations import allocate, fund

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_postgresql")]
ROLE = "esfca_app_test"
DAY, TODAY = date(2025, 11, 4), date(2025, 11, 30)


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def as_app_role():
    """The role created, granted by the command (as the owner: the test's superuser), and
    taken on by this connection until the test's transaction ends."""
    sql(f"CREATE ROLE {ROLE} NOLOGIN")
    call_command("db_app_role", ROLE, "--apply")
    sql(f"SET LOCAL ROLE {ROLE}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == (ROLE,)


def test_the_command_prints_the_grants(capsys):
    call_command("db_app_role", ROLE)
    out = capsys.readouterr().out
    assert (
        'GRANT SELECT, INSERT ON "esfca_auditevent", "ledger_entry", "ledger_transaction" '
        f'TO "{ROLE}";'
    ) in out
    assert f'GRANT SELECT, INSERT, UPDATE ON "esfca_audithead" TO "{ROLE}";' in out
    assert "TRUNCATE" not in out
    with pytest.raises(CommandError, match="lower case"):
        call_command("db_app_role", 'x"; DROP TABLE y; --')


def test_the_app_role_does_the_apps_work(as_app_role):
    set_rate("USD", DAY, "280.0000")
    firm = open_firm()  # accounts opened: audited
    receipt = fund(firm)
    allocation, created = allocate(firm)
    assert created
    rows = [
        {
            "reference": f"IMP-{n}", "value_date": DAY, "amount": D("100.00"),
            "currency": "USD", "client_name": "Client", "client_country": "US",
            "purpose_code": "9184",
        }
        for n in range(5)
    ]  # fmt: skip
    assert all(o.created for o in receipts_record_many(firm=firm, actor=None, rows=rows))
    summary = summary_file(firm=firm, month=date(2025, 11, 1), actor=None)
    user_create(
        username="newofficer", password="a long passphrase 42", role="finance_officer", firm=firm
    )
    assert Receipt.objects.filter(firm=firm).count() == 6 and receipt.pk and summary.pk
    actions = set(AuditEvent.objects.filter(firm=firm).values_list("action", flat=True))
    assert {"receipt_recorded", "allocation_created", "summary_filed", "role_granted"} <= actions
    assert audit_verify().ok and ledger_verify().ok
    assert allocation.balance_after == D("7500.00")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE esfca_auditevent DISABLE TRIGGER USER",
        "ALTER TABLE ledger_entry DISABLE TRIGGER USER",
        "DROP TRIGGER esfca_auditevent_append_only ON esfca_auditevent",
        "UPDATE esfca_auditevent SET details = '{}'",
        "DELETE FROM esfca_auditevent",
        "TRUNCATE esfca_auditevent",
        "UPDATE ledger_entry SET debit = debit",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_transaction SET memo = ''",
        "DELETE FROM esfca_audithead",
        "TRUNCATE ledger_entry, ledger_transaction CASCADE",
        "TRUNCATE ledger_account CASCADE",
        "SET session_replication_role = replica",
    ],
)
def test_the_app_role_cannot_rewrite_history(as_app_role, statement):
    set_rate("USD", DAY, "280.0000")
    fund(open_firm())
    with pytest.raises(DatabaseError) as refused, transaction.atomic():
        sql(statement)
    assert refused.value.__cause__.sqlstate == "42501", refused.value  # insufficient_privilege
