"""Two tenants for the web UI tests: a firm with its officer, viewer and bank reviewer, and a
foreign firm at another bank with its own officer and reviewer; rates for every day from the
start of last month to today; a few receipts; last month filed for review."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from esfca.models import MonthlySummary, SummaryReview
from esfca.services import allocation_create, firm_account_open, receipt_record
from esfca.summaries.services import summary_file
from exporters.models import Bank, Firm, Membership, User
from ledger.models import FxRate
from tests.esfca.conftest import iban_pk
from tests.exporters.factories import FirmFactory

PASSWORD = "correct horse battery staple"
RATES = {"USD": ("280.0000", "281.0000"), "EUR": ("300.0000", "301.0000")}


def _hash() -> str:
    """The password's hash, made once per hasher setting (a test may set a faster one)."""
    return _hash_with(tuple(settings.PASSWORD_HASHERS))


@cache
def _hash_with(hashers: tuple[str, ...]) -> str:
    return make_password(PASSWORD)


@dataclass
class World:
    today: date
    last_month: date
    bank: Bank
    foreign_bank: Bank
    firm: Firm
    foreign_firm: Firm
    officer: User
    viewer: User
    reviewer: User
    foreign_officer: User
    foreign_reviewer: User
    admin: User
    summary: MonthlySummary | None
    review: SummaryReview | None  # the bank's slice of ``summary``

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)


def rates_for(days) -> None:
    FxRate.objects.bulk_create(
        [
            FxRate(
                currency=c,
                date=d,
                source=FxRate.Source.SBP_WACR,
                buy=Decimal(b),
                sell=Decimal(s),
            )
            for d in days
            for c, (b, s) in RATES.items()
        ],
        ignore_conflicts=True,
    )


def open_firm_with_accounts(name: str, bank: Bank, n: int, currencies=("USD", "EUR")) -> Firm:
    firm = FirmFactory(name=name, ntn=f"{4200000 + n}-{n}")
    for i, currency in enumerate(("PKR", *currencies)):
        firm_account_open(
            firm=firm, bank=bank, currency=currency, iban=iban_pk(bank.code, n * 100 + i)
        )
    return firm


def make_world(*, file_last_month: bool = True) -> World:
    today = timezone.localdate()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    rates_for(last_month + timedelta(days=i) for i in range((today - last_month).days + 1))
    bank = Bank.objects.create(code="SCBL", name="Standard Chartered Bank (Pakistan)")
    foreign_bank = Bank.objects.create(code="HABB", name="Habib Bank Limited")
    firm = open_firm_with_accounts("Lahore Software", bank, 1)
    foreign_firm = open_firm_with_accounts(
        "Karachi Code Works", foreign_bank, 2, currencies=("USD",)
    )

    def user(name, role, **scope):
        # One hash for everyone (hashing is deliberately slow); same result as user_create.
        person = User.objects.create(username=name, email=f"{name}@example.com", password=_hash())
        Membership.objects.create(user=person, role=role, **scope)
        return person

    officer = user("officer", "finance_officer", firm=firm)
    viewer = user("viewer", "firm_viewer", firm=firm)
    reviewer = user("reviewer", "bank_reviewer", bank=bank)
    foreign_officer = user("foreign_officer", "finance_officer", firm=foreign_firm)
    foreign_reviewer = user("foreign_reviewer", "bank_reviewer", bank=foreign_bank)
    admin = User.objects.create(
        username="admin", email="admin@example.com", password=_hash(), is_staff=True,
        is_superuser=True,
    )  # fmt: skip

    receipt_record(
        firm=firm, actor=officer, reference="INV-PREV-1", value_date=last_month,
        amount=Decimal("4000.00"), currency="USD", client_name="Acme Inc.",
        client_country="US", purpose_code="9184",
    )  # fmt: skip
    allocation_create(
        firm=firm, actor=officer, reference="AWS-PREV-1", value_date=last_month,
        category="cloud_infrastructure", amount=Decimal("500.00"), currency="USD",
        payee_name="Amazon Web Services", payee_country="US",
    )  # fmt: skip
    receipt_record(
        firm=firm, actor=officer, reference="INV-NOW-1", value_date=today.replace(day=1),
        amount=Decimal("10000.00"), currency="USD", client_name="Globex GmbH",
        client_country="DE", purpose_code="9182",
    )  # fmt: skip
    receipt_record(
        firm=foreign_firm, actor=foreign_officer, reference="K-1", value_date=last_month,
        amount=Decimal("2500.00"), currency="USD", client_name="Initech",
        client_country="GB",
    )  # fmt: skip
    summary = summary_file(firm=firm, month=last_month, actor=officer) if file_last_month else None
    return World(
        today=today,
        last_month=last_month,
        bank=bank,
        foreign_bank=foreign_bank,
        firm=firm,
        foreign_firm=foreign_firm,
        officer=officer,
        viewer=viewer,
        reviewer=reviewer,
        foreign_officer=foreign_officer,
        foreign_reviewer=foreign_reviewer,
        admin=admin,
        summary=summary,
        review=summary.reviews.get(bank=bank) if summary else None,
    )
