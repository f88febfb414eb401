"""Deterministic demo data for the embedded default (``manage.py load_demo``).

Six exporters at three banks, 18 months (June 2025 to November 2026) of receipts whose
monthly totals follow the shape of Pakistan's ICT export remittances (regulations.md §6,
December 2025 the record month), clients in North America, the Gulf, Europe and
Asia-Pacific, allocations in every category, and SBP-style buying/selling rates near
the real levels. Every write goes through the real services, so re-running it posts
nothing twice (each record is idempotent by firm + reference).
"""

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from exporters.models import Bank, Firm, Membership, User
from exporters.services import password_check
from exporters.validators import iban_pk
from ledger.models import Account, FxRate

from . import policy
from .models import Allocation, Receipt
from .services import allocation_create, conversion_create, firm_account_open, receipt_record

DEMO_PASSWORD = "demo-password-2025"
FIRST_MONTH = date(2025, 6, 1)
MONTHS = 18
# ICT export remittances, USD million (regulations.md §6 for Jul 2025 - Jan 2026; the
# other months are an assumption that keeps December 2025 the record).
ICT_INDEX = [
    330,
    354,
    337,
    366,
    386,
    356,
    437,
    374,
    361,
    395,
    381,
    404,
    409,
    398,
    387,
    402,
    415,
    392,
]

BANKS = [
    ("SCBL", "Standard Chartered Bank (Pakistan) Limited"),
    ("HABB", "Habib Bank Limited"),
    ("MEZN", "Meezan Bank Limited"),
]
# PKR per unit relative to USD, near November 2025 levels.
CROSS = {
    "USD": Decimal(1),
    "EUR": Decimal("1.152"),
    "GBP": Decimal("1.318"),
    "AED": Decimal("0.27229"),
    "SAR": Decimal("0.26664"),
    "AUD": Decimal("0.6488"),
}
REGIONS = {
    # region: (share of proceeds, clients as (name, country, currency))
    "North America": (
        Decimal("0.50"),
        [
            ("Northwind Health Inc.", "US", "USD"),
            ("Cascade Logistics LLC", "US", "USD"),
            ("Maple Fintech Corp.", "CA", "USD"),
        ],
    ),
    "Middle East": (
        Decimal("0.20"),
        [("Gulf Retail LLC", "AE", "AED"), ("Riyadh Smart Services", "SA", "USD")],
    ),
    "Europe": (
        Decimal("0.20"),
        [
            ("Thames Analytics Ltd", "GB", "GBP"),
            ("Rhein Mobility GmbH", "DE", "EUR"),
            ("Dublin Payments DAC", "IE", "EUR"),
        ],
    ),
    "Asia-Pacific": (
        Decimal("0.10"),
        [("Harbour Apps Pte Ltd", "SG", "USD"), ("Koala Commerce Pty Ltd", "AU", "AUD")],
    ),
}
PAYEES = {
    "cloud_infrastructure": ("Amazon Web Services EMEA SARL", "LU"),
    "software_subscriptions": ("Atlassian Pty Ltd", "AU"),
    "marketing_abroad": ("Google Ireland Limited", "IE"),
    "professional_fees_abroad": ("Al Tamimi & Company", "AE"),
    "staff_salaries_abroad": ("Payroll: Dubai sales team", "AE"),
    "foreign_office_expenses": ("DMCC office lease", "AE"),
    "travel_abroad": ("Emirates", "AE"),
    "training_certification": ("Amazon Web Services Training", "US"),
    "dividends_abroad": ("Foreign shareholder (UK)", "GB"),
}


@dataclass(frozen=True)
class DemoFirm:
    slug: str
    name: str
    ntn: str
    kind: str
    registration_body: str
    active_taxpayer: bool
    bank: str
    currencies: tuple[str, ...]
    monthly_usd: int  # in the month of index 386


FIRMS = [
    DemoFirm(
        "indus",
        "Indus Cloud Systems (Pvt) Ltd",
        "4174941-3",
        "it_company",
        "PSEB",
        True,
        "SCBL",
        ("USD", "EUR", "GBP"),
        260_000,
    ),
    DemoFirm(
        "ravi",
        "Ravi Data Labs (Pvt) Ltd",
        "3820011-7",
        "it_company",
        "PASHA",
        True,
        "HABB",
        ("USD", "AED"),
        140_000,
    ),
    DemoFirm(
        "margalla",
        "Margalla Software House",
        "2950176-0",
        "it_company",
        "PSEB",
        False,
        "MEZN",
        ("USD", "GBP", "EUR"),
        115_000,
    ),
    DemoFirm(
        "karakoram",
        "Karakoram BPO Services (Pvt) Ltd",
        "5092233-1",
        "it_company",
        "PASHA",
        True,
        "SCBL",
        ("USD", "AUD"),
        60_000,
    ),
    DemoFirm(
        "ayesha",
        "Ayesha Khan (freelance developer)",
        "35202-1234567-1",
        "freelancer",
        "SELF_DECLARATION",
        False,
        "HABB",
        ("USD",),
        6_500,
    ),
    DemoFirm(
        "bilal",
        "Bilal Ahmed (freelance designer)",
        "42101-7654321-3",
        "freelancer",
        "PSEB",
        True,
        "SCBL",
        ("USD", "AUD"),
        4_800,
    ),
]


def month_start(index: int) -> date:
    year, month = divmod(FIRST_MONTH.month - 1 + index, 12)
    return date(FIRST_MONTH.year + year, month + 1, 1)


def working_days(first: date, last: date):
    day = first
    while day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def usd_pkr_buy(day: date) -> Decimal:
    """A smooth, deterministic path between about 278 and 283 PKR per USD."""
    t = (day - FIRST_MONTH).days
    value = 280.6 + 1.9 * math.sin(t / 47.0) + 0.6 * math.sin(t / 9.0)
    return Decimal(str(round(value, 4)))


def load_rates(first: date, last: date) -> None:
    existing = set(
        FxRate.objects.filter(source=FxRate.Source.SBP_WACR, date__range=(first, last)).values_list(
            "currency", "date"
        )
    )
    rows = []
    for day in working_days(first, last):
        usd = usd_pkr_buy(day)
        for currency, cross in CROSS.items():
            if (currency, day) in existing:
                continue
            buy = (usd * cross).quantize(Decimal("0.0001"))
            sell = (buy * Decimal("1.0015")).quantize(Decimal("0.0001"))
            rows.append(
                FxRate(
                    currency=currency, date=day, source=FxRate.Source.SBP_WACR, buy=buy, sell=sell
                )
            )
    FxRate.objects.bulk_create(rows, batch_size=500)


def ensure_user(username: str, role: str | None, *, firm=None, bank=None, superuser=False) -> None:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "email": f"{username}@demo.esfca.pk",
            "is_superuser": superuser,
            "is_staff": superuser,
        },
    )
    if created:
        password_check(DEMO_PASSWORD, user)
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    if role:
        Membership.objects.get_or_create(user=user, role=role, firm=firm, bank=bank)


def ensure_firm(spec: DemoFirm, banks: dict[str, Bank], number: int) -> Firm:
    firm, _ = Firm.objects.get_or_create(
        ntn=spec.ntn,
        defaults={
            "name": spec.name,
            "kind": spec.kind,
            "registration_body": spec.registration_body,
            "registration_number": ""
            if spec.registration_body == "SELF_DECLARATION"
            else f"{spec.registration_body}/{2019 + number}/{1000 + number * 37}",
            "active_taxpayer": spec.active_taxpayer,
        },
    )
    bank = banks[spec.bank]
    for n, currency in enumerate(("PKR", *spec.currencies)):
        if not Account.objects.filter(owner=firm, bank=bank, currency=currency).exists():
            firm_account_open(
                firm=firm, bank=bank, currency=currency, iban=iban_pk(bank.code, number * 100 + n)
            )
    ensure_user(f"officer.{spec.slug}", Membership.Role.FINANCE_OFFICER, firm=firm)
    ensure_user(f"viewer.{spec.slug}", Membership.Role.FIRM_VIEWER, firm=firm)
    return firm


def simulate_firm(firm: Firm, spec: DemoFirm, number: int, today: date) -> tuple[int, int]:
    """Record the firm's 18 months; a month already loaded is skipped (each month loads
    all-or-nothing), so re-running adds nothing."""
    rng = random.Random(f"esfca-demo-{spec.slug}")
    receipts = allocations = 0
    for index in range(MONTHS):
        first = month_start(index)
        days = list(working_days(first, min(policy.month_bounds(first)[1], today)))
        if not days:
            break
        # Draw this month's randomness first, so a skipped month keeps later months unchanged.
        count = rng.randint(3, 6) if spec.kind == "it_company" else rng.randint(1, 3)
        plan = random.Random(rng.random())
        if Receipt.objects.filter(firm=firm, reference=f"{spec.slug.upper()}-{first:%Y%m}-01"):
            continue
        with transaction.atomic():
            target_usd = Decimal(spec.monthly_usd) * ICT_INDEX[index] / 386
            receipts += record_month_receipts(
                firm, spec, number, plan, first, days, count, target_usd, today
            )
            allocations += spend_month(firm, spec, number, plan, index, first, days[-1], today)
    if spec.active_taxpayer and spec.kind == "it_company":
        allocations += invest_abroad(firm, spec, today)
    return receipts, allocations


def record_month_receipts(firm, spec, number, rng, first, days, count, target_usd, today) -> int:
    weights = [Decimal(rng.randint(50, 150)) for _ in range(count)]
    value_dates = sorted(rng.choice(days) for _ in range(count))  # in order: no backdating
    for n, weight in enumerate(weights):
        region = rng.choices(list(REGIONS), weights=[float(s) for s, _ in REGIONS.values()])[0]
        name, country, currency = rng.choice(REGIONS[region][1])
        if currency not in spec.currencies:
            currency = "USD"
        day = value_dates[n]
        usd = target_usd * weight / sum(weights)
        amount = (usd / CROSS[currency]).quantize(Decimal("1.00"))
        bank_rate = None
        if rng.random() < 0.3:
            buy = (usd_pkr_buy(day) * CROSS[currency]).quantize(Decimal("0.0001"))
            bank_rate = buy + Decimal("0.0500")
        opt_down = rng.random() >= 0.85
        receipt_record(
            firm=firm,
            actor=None,
            reference=f"{spec.slug.upper()}-{first:%Y%m}-{n + 1:02d}",
            value_date=day,
            amount=amount,
            currency=currency,
            retain=Decimal("0.00") if opt_down else "max",  # a written opt-down
            conversion_rate=bank_rate,
            client_name=name,
            client_country=country,
            purpose_code=rng.choice(["9184", "9182", "9185", "9102" if number == 3 else "9184"]),
            today=today,
        )
    return count


def spend_month(firm, spec, number, rng, index, first, pay_day, today) -> int:
    """Two or three permitted purposes a month, and now and then a conversion to PKR."""
    categories = list(PAYEES)
    made = 0
    for k in range(rng.randint(2, 3)):
        category = categories[(index * 3 + k + number) % len(categories)]
        payee, payee_country = PAYEES[category]
        account = (
            Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA, balance__gt=0)
            .order_by("-balance")
            .first()
        )
        if account is None:
            break
        amount = (account.balance * Decimal(rng.randint(8, 25)) / 100).quantize(Decimal("1.00"))
        if amount <= 0:
            continue
        allocation_create(
            firm=firm,
            actor=None,
            reference=f"{spec.slug.upper()}-{first:%Y%m}-PAY{k + 1}",
            value_date=pay_day,
            category=category,
            amount=amount,
            currency=account.currency,
            payee_name=payee,
            payee_country=payee_country,
            today=today,
        )
        made += 1
    if index % 4 == 2:
        usd_account = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="USD")
        amount = (usd_account.balance * Decimal("0.1")).quantize(Decimal("1.00"))
        if amount > 0:
            conversion_create(
                firm=firm,
                actor=None,
                reference=f"{spec.slug.upper()}-{first:%Y%m}-CONV",
                value_date=pay_day,
                amount=amount,
                currency="USD",
                today=today,
            )
    return made


def invest_abroad(firm, spec, today) -> int:
    reference = f"{spec.slug.upper()}-EQUITY-1"
    if Allocation.objects.filter(firm=firm, reference=reference).exists():
        return 0
    usd_account = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="USD")
    amount = (usd_account.balance * Decimal("0.3")).quantize(Decimal("1.00"))
    if amount <= 0:
        return 0
    subsidiary = f"{firm.name.split(' (')[0]} FZ-LLC"
    allocation_create(
        firm=firm,
        actor=None,
        reference=reference,
        value_date=max(working_days(month_start(MONTHS - 2), today)),
        category="overseas_equity",
        amount=amount,
        currency="USD",
        payee_name=subsidiary,
        payee_country="AE",
        investee_name=subsidiary,
        investee_country="AE",
        today=today,
    )
    return 1


def load_demo(stdout=None) -> list[tuple[str, str]]:
    """Create or complete the demo data; returns the logins as (username, what it is)."""
    today = timezone.localdate()
    last_day = min(today, policy.month_bounds(month_start(MONTHS - 1))[1])
    banks = {}
    for code, name in BANKS:
        banks[code], _ = Bank.objects.update_or_create(code=code, defaults={"name": name})
    load_rates(FIRST_MONTH, last_day)
    ensure_user("admin", None, superuser=True)
    logins = [("admin", "platform admin (Django admin at /admin/)")]
    for code in banks:
        ensure_user(f"reviewer.{code.lower()}", Membership.Role.BANK_REVIEWER, bank=banks[code])
        logins.append((f"reviewer.{code.lower()}", f"bank reviewer at {banks[code].name}"))
    for number, spec in enumerate(FIRMS, start=1):
        with transaction.atomic():
            firm = ensure_firm(spec, banks, number)
        receipts, allocations = simulate_firm(firm, spec, number, last_day)
        if stdout:
            stdout.write(f"  {spec.name}: {receipts} receipts, {allocations} allocations")
        logins.append((f"officer.{spec.slug}", f"finance officer of {spec.name}"))
        logins.append((f"viewer.{spec.slug}", f"read-only viewer of {spec.name}"))
    return logins
