"""Query counts of pages (issue 15: a page costs a fixed number of queries whatever the data):
a world grown from the view tests' small one — more receipts, more months, more firms at
the bank, more filed and decided summaries — and a counter of the queries one request runs.

Shared by the web's (``tests/esfca/views/test_query_counts.py``) and the API's
(``tests/esfca/api/test_query_counts.py``) tests.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from esfca.models import Receipt
from esfca.services import (
    allocation_create,
    conversion_create,
    firm_account_open,
    movement_reverse,
    receipt_record,
    transfer_create,
)
from esfca.summaries.services import review_decide, summary_file
from exporters.models import Membership, User
from exporters.validators import iban_pk
from ledger.models import Account
from tests.esfca.views.world import World, open_firm_with_accounts, rates_for


def months_before(first: date, n: int) -> list[date]:
    """The first days of the ``n`` months before ``first``, newest first."""
    out = []
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first)
    return out


def _month_of_movements(
    firm, actor, first: date, tag: str, receipts: int, bank: str, last: date | None = None
) -> None:
    """Receipts in USD and EUR (in date order), then allocations and a conversion, in
    ``first``'s month up to ``last`` (its 23rd by default)."""
    last = last or first + timedelta(days=22)
    span = (last - first).days
    for i in range(receipts):
        receipt_record(
            firm=firm, actor=actor, reference=f"{tag}-R{i}",
            value_date=first + timedelta(days=i * max(0, span - 2) // receipts),
            amount=Decimal("1000.00") + i, currency=("USD", "EUR")[i % 2], bank=bank,
            client_name=f"Client {i % 7}", client_country=("US", "DE", "AE", "SG", "PK")[i % 5],
            purpose_code="9184",
        )  # fmt: skip
    for i in range(max(1, receipts // 4)):
        allocation_create(
            firm=firm, actor=actor, reference=f"{tag}-A{i}", bank=bank,
            value_date=last - timedelta(days=min(span, 1)),
            category=("cloud_infrastructure", "software_subscriptions")[i % 2],
            amount=Decimal("10.00"), currency="USD", payee_name=f"Vendor {i}", payee_country="US",
        )  # fmt: skip
    conversion_create(
        firm=firm, actor=actor, reference=f"{tag}-C", value_date=last,
        amount=Decimal("5.00"), currency="USD", bank=bank,
    )  # fmt: skip


def grow(
    world: World, *, receipts: int = 24, months: int = 6, firms: int = 3, after: int = 0
) -> None:
    """Make the world larger in every direction a page could loop over: receipts in this
    month, ``months`` earlier months (the ``after`` months before last month already grown)
    with their movements and filed summaries (one returned and filed again, one accepted),
    a USD account at a second bank and a transfer to it, a reversed receipt, a receipt
    recorded late into a filed month, and ``firms`` more firms at the bank with filed
    months. Called again with a larger ``after``, it grows the world further."""
    assert months >= 3
    this_month = world.today.replace(day=1)
    earlier = months_before(world.last_month, after + months)[after:]
    oldest, tag = earlier[-1], f"G{after}"
    rates_for(oldest + timedelta(days=i) for i in range((world.today - oldest).days + 1))
    officer, reviewer, bank = world.officer, world.reviewer, world.bank.code
    for n, first in enumerate(reversed(earlier)):
        _month_of_movements(world.firm, officer, first, f"{tag}E{n}", receipts, bank)
    _month_of_movements(world.firm, officer, this_month, f"{tag}NOW", receipts, bank, world.today)
    there = Account.objects.filter(owner=world.firm, bank=world.foreign_bank).first()
    there = there or firm_account_open(
        firm=world.firm, bank=world.foreign_bank, currency="USD", iban=iban_pk("HABB", 777)
    )
    here = Account.objects.get(
        owner=world.firm, kind=Account.Kind.ESFCA, currency="USD", bank=world.bank
    )
    transfer_create(
        firm=world.firm, actor=officer, reference=f"{tag}T",
        value_date=earlier[1] + timedelta(days=25),
        from_account_id=here.pk, to_account_id=there.pk, amount=Decimal("100.00"),
    )  # fmt: skip
    receipt = Receipt.objects.get(
        firm=world.firm, reference=f"{tag}E0-R1"
    )  # EUR: nothing spent from it
    movement_reverse(
        firm=world.firm, actor=officer, kind="receipt", movement_id=receipt.pk,
        reference=f"{tag}REV", reason="typed twice",
    )  # fmt: skip
    for first in reversed(earlier):
        summary_file(firm=world.firm, month=first, actor=officer)
    # One month returned and filed again, one accepted.
    returned = world.firm.summaries.get(month=earlier[0], revision=1)
    review_decide(
        review=returned.reviews.get(bank=world.bank), decision="returned",
        comment="Missing invoices.", actor=reviewer,
    )  # fmt: skip
    summary_file(firm=world.firm, month=earlier[0], actor=officer)
    accepted = world.firm.summaries.get(month=earlier[1], revision=1)
    review_decide(
        review=accepted.reviews.get(bank=world.bank), decision="accepted", comment="",
        actor=reviewer,
    )  # fmt: skip
    # A receipt recorded late into a filed month: its slice changed after filing.
    receipt_record(
        firm=world.firm, actor=officer, reference=f"{tag}LATE", bank=bank,
        value_date=earlier[2] + timedelta(days=23), amount=Decimal("50.00"), currency="USD",
        client_name="Late Client", client_country="US", purpose_code="9184",
    )  # fmt: skip
    # More firms at the bank, each with months filed for the reviewer's queue.
    for n in range(firms):
        number = 10 + after * 10 + n
        other = open_firm_with_accounts(f"Islamabad Apps {number}", world.bank, number)
        actor = User.objects.create(username=f"officer-{number}", email=f"o{number}@example.com")
        Membership.objects.create(user=actor, role=Membership.Role.FINANCE_OFFICER, firm=other)
        for first in (*earlier[:3], world.last_month):
            mark = f"F{number}-{first:%Y%m}"
            _month_of_movements(other, actor, first, mark, max(2, receipts // 4), bank)
            summary_file(firm=other, month=first, actor=actor)


def queries(client, url: str, **params) -> tuple[int, list[str]]:
    """The number of queries one GET of ``url`` runs (after a first GET that warms the
    per-process caches), and their SQL; the answer must be a 200."""
    assert client.get(url, params).status_code == 200, url
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]
