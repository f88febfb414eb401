"""What a bank reviewer reads (rules.md §5–§6): the queue of filed summaries with their
live flags, a summary they may see, and the portfolio of the bank's firms for a month.

Tenant scoping happens here, once: the queue holds the summaries of the firms banking
with the reviewer's banks, and a single summary is found only among the firms the user
may see (``exporters.selectors``).
"""

from collections import defaultdict
from datetime import date

from django.db.models import QuerySet

from esfca.models import MonthlySummary
from exporters.models import Bank, Firm, User
from exporters.selectors import firms_overseen_by, firms_visible_to
from ledger.models import Account

from .figures import filing_due, summary_compute_many, summary_filing_flags
from .formatting import local_iso, month_label

Status = MonthlySummary.Status


# --- bank review ----------------------------------------------------------------------------


def review_queue(*, user: User, status: str | None = None) -> QuerySet[MonthlySummary]:
    """Summaries (every filed revision) of the firms on the user's review desk."""
    firms = firms_overseen_by(user)
    qs = MonthlySummary.objects.filter(firm__in=firms.values("pk")).exclude(status=Status.DRAFT)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("firm").order_by("-month", "firm__name", "-revision")


def review_rows(summaries: list[MonthlySummary]) -> list[dict]:
    """Queue rows with their live flags: one batch of loads per month on the page."""
    by_month: dict[date, list[MonthlySummary]] = defaultdict(list)
    for s in summaries:
        by_month[s.month].append(s)
    live: dict[tuple[int, date], dict] = {}
    for month, items in by_month.items():
        computed = summary_compute_many(firms=list({s.firm for s in items}), month=month)
        for pk, figures in computed.items():
            live[(pk, month)] = figures
    rows = []
    for s in summaries:
        figures = live[(s.firm_id, s.month)]
        due = filing_due(s.month)
        rows.append(
            {
                "id": s.pk,
                "firm": s.firm_id,
                "firm_name": s.firm.name,
                "month": month_label(s.month),
                "revision": s.revision,
                "status": s.status,
                "sha256": s.sha256,
                "filed_at": local_iso(s.filed_at),
                "flags": figures["flags"]
                + summary_filing_flags(s, figures, due, s.firm_id, s.month),
            }
        )
    return rows


def summary_for_reviewer(*, user: User, pk: int) -> MonthlySummary | None:
    """A summary the user may see (any tenant rule), or None."""
    return (
        MonthlySummary.objects.filter(pk=pk, firm__in=firms_visible_to(user).values("pk"))
        .select_related("firm")
        .first()
    )


# --- bank portfolio -------------------------------------------------------------------------


def bank_portfolio(*, bank: Bank, month: date) -> dict:
    """Every firm with an account at ``bank``: the month's totals per currency (the whole
    firm's, as its summary shows them), retention ratio, flag count, filing status."""
    firms = list(
        Firm.objects.filter(pk__in=Account.objects.filter(bank=bank).values("owner_id")).order_by(
            "name", "pk"
        )
    )
    computed = summary_compute_many(firms=firms, month=month)
    latest: dict[int, MonthlySummary] = {}
    for s in MonthlySummary.objects.filter(firm__in=firms, month=month).order_by("revision"):
        latest[s.firm_id] = s
    due = filing_due(month)
    rows = []
    for firm in firms:
        figures = computed[firm.pk]
        record = latest.get(firm.pk)
        flags = figures["flags"] + summary_filing_flags(record, figures, due, firm.pk, month)
        rows.append(
            {
                "firm": firm.pk,
                "firm_name": firm.name,
                "ntn": firm.ntn,
                "status": record.status if record else Status.DRAFT,
                "revision": record.revision if record else None,
                "summary_id": record.pk if record and record.status != Status.DRAFT else None,
                "flag_count": len(flags),
                "flag_codes": sorted({f["code"] for f in flags}),
                "currencies": [
                    {
                        k: c[k]
                        for k in (
                            "currency",
                            "opening",
                            "receipts_count",
                            "receipts",
                            "retained",
                            "converted",
                            "allocations_total",
                            "conversions",
                            "closing",
                            "retention_ratio",
                            "retention_limit_ratio",
                        )
                    }
                    for c in figures["currencies"]
                ],
            }
        )
    return {
        "bank": bank.code,
        "bank_name": bank.name,
        "month": month_label(month),
        "due_date": due.isoformat(),
        "firms": rows,
    }
