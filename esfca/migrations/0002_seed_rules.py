"""Seed the rule versions and parameters of domain/rules.md (editable in the admin)."""

from datetime import date
from decimal import Decimal

from django.db import migrations

RETENTION = [
    ("it_company", date(2021, 2, 19), "0.35", "0", "per_receipt"),
    ("it_company", date(2023, 10, 23), "0.50", "5000", "calendar_month"),
    ("freelancer", date(2023, 1, 13), "0.35", "0", "per_receipt"),
    ("freelancer", date(2023, 10, 23), "0.50", "5000", "calendar_month"),
]
# ITO s.154A as rules.md §3 seeds it: 0.25% PSEB-registered, 1% otherwise, from 2022-07-01.
TAX = [
    ("OTHER", date(2022, 7, 1), "0.0100"),
    ("PSEB", date(2022, 7, 1), "0.0025"),
]
EQUITY = [
    (date(2021, 2, 10), "", "export_average", "0.10", "100000"),
    (date(2024, 7, 11), "it_company", "esfca_balance", "0.10", "100000"),
]
SINCE = date(2000, 1, 1)
PARAMETERS = [
    ("holding_period_working_days", SINCE, "3"),
    ("filing_due_day", SINCE, "10"),
    ("round_trip_days", SINCE, "7"),
    ("round_trip_share", SINCE, "0.90"),
    ("equity_approval_countries", date(2021, 2, 10), "IN"),
    ("client_concentration_warning", SINCE, "0.50"),
]
PURPOSE_CODES = [
    ("9102", "Call centres", True),
    ("9181", "Hardware consultancy", True),
    ("9182", "Software consultancy", True),
    ("9183", "Maintenance and repair of computers", True),
    ("9184", "Export of computer software", True),
    ("9185", "Other computer services", True),
    ("9471", "Home remittance (workers' remittances): not export proceeds", False),
]


def seed(apps, schema_editor):
    Retention = apps.get_model("esfca", "RetentionRuleVersion")
    Tax = apps.get_model("esfca", "TaxRate")
    Equity = apps.get_model("esfca", "EquityCapVersion")
    Parameter = apps.get_model("esfca", "Parameter")
    Purpose = apps.get_model("esfca", "PurposeCode")
    for kind, since, ratio, floor, basis in RETENTION:
        Retention.objects.get_or_create(
            firm_kind=kind,
            effective_from=since,
            defaults={"ratio": Decimal(ratio), "monthly_floor_usd": Decimal(floor), "basis": basis},
        )
    for applies_to, since, rate in TAX:
        Tax.objects.get_or_create(
            applies_to=applies_to, effective_from=since, defaults={"rate": Decimal(rate)}
        )
    for since, kind, basis, ratio, floor in EQUITY:
        Equity.objects.get_or_create(
            effective_from=since,
            firm_kind=kind,
            defaults={"basis": basis, "ratio": Decimal(ratio), "floor_usd": Decimal(floor)},
        )
    for key, since, value in PARAMETERS:
        Parameter.objects.get_or_create(key=key, effective_from=since, defaults={"value": value})
    for code, description, export in PURPOSE_CODES:
        Purpose.objects.get_or_create(
            code=code, defaults={"description": description, "export_proceeds": export}
        )


class Migration(migrations.Migration):
    dependencies = [("esfca", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
