"""What a bank reviewer reads (rules.md §5–§6, §11): the queue of its bank's slices of filed
summaries with their live flags, a slice they may see, and the portfolio of the bank's
firms for a month (each firm's slice at that bank).

Tenant scoping happens in ``exporters.selectors``: the queue holds the reviews of the
banks the user oversees, and a single review is found only among the firms the user may
see, and only its own bank's slice for a reviewer.
"""

from collections import defaultdict
from datetime import date

from django.db.models import QuerySet

from esfca.models import MonthlySummary, SummaryReview
from exporters.models import Bank, Firm, User
from exporters.selectors import (
    bank_slice,
    banks_overseen_by,
    firm_slice_for,
    firms_visible_to,
)
from ledger.models import Account

from .figures import filing_due, summary_compute_many, summary_filing_flags
from .formatting import local_iso, month_label

Status = MonthlySummary.Status


# --- bank review ----------------------------------------------------------------------------


def review_queue(*, user: User, status: str | None = None) -> QuerySet[SummaryReview]:
    """The slices (one per bank and filed revision) on the user's review desk."""
    qs = SummaryReview.objects.filter(bank__in=banks_overseen_by(user))
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("summary__firm", "bank").order_by(
        "-summary__month", "summary__firm__name", "-summary__revision", "bank__code"
    )


def review_rows(reviews: list[SummaryReview]) -> list[dict]:
    """Queue rows with their slice's live flags: one batch of loads per month and bank."""
    groups: dict[tuple[date, int], list[SummaryReview]] = defaultdict(list)
    for r in reviews:
        groups[(r.summary.month, r.bank_id)].append(r)
    live: dict[tuple[int, date, int], dict] = {}
    for (month, bank_id), items in groups.items():
        computed = summary_compute_many(
            firms=list({r.summary.firm for r in items}),
            month=month,
            banks=bank_slice(items[0].bank),
        )
        for pk, figures in computed.items():
            live[(pk, month, bank_id)] = figures
    rows = []
    for r in reviews:
        s = r.summary
        figures = live[(s.firm_id, s.month, r.bank_id)]
        flags = figures["flags"] + summary_filing_flags(
            s, figures, filing_due(s.month), s.firm_id, s.month, r.snapshot or {}
        )
        rows.append(
            {
                "id": r.pk,
                "summary": s.pk,
                "firm": s.firm_id,
                "firm_name": s.firm.name,
                "month": month_label(s.month),
                "bank": r.bank.code,
                "revision": s.revision,
                "status": r.status,
                "summary_status": s.status,
                "sha256": s.sha256,
                "filed_at": local_iso(s.filed_at),
                "flags": flags,
            }
        )
    return rows


def review_for_user(*, user: User, pk: int) -> SummaryReview | None:
    """A bank's slice the user may see: of a firm it sees, and for a bank reviewer of its
    own bank only (another bank's slice is not found, rules.md §11); or None."""
    review = (
        SummaryReview.objects.filter(pk=pk, summary__firm__in=firms_visible_to(user).values("pk"))
        .select_related("summary__firm", "bank")
        .first()
    )
    if review is None or not firm_slice_for(user, review.summary.firm).holds(review.bank_id):
        return None
    return review


def months_returned(firm: Firm) -> list[MonthlySummary]:
    """The firm's months whose latest revision a bank returned: waiting for a refile."""
    latest: dict[date, MonthlySummary] = {}
    for s in MonthlySummary.objects.filter(firm=firm).order_by("month", "revision"):
        latest[s.month] = s
    return [s for s in latest.values() if s.status == Status.RETURNED]


# --- bank portfolio -------------------------------------------------------------------------


def bank_portfolio(*, bank: Bank, month: date) -> dict:
    """Every firm with an account at ``bank``: the month's totals per currency of its
    accounts at ``bank`` (its slice, rules.md §11), retention ratio, flag count, filing
    status."""
    firms = list(
        Firm.objects.filter(pk__in=Account.objects.filter(bank=bank).values("owner_id")).order_by(
            "name", "pk"
        )
    )
    computed = summary_compute_many(firms=firms, month=month, banks=bank_slice(bank))
    latest: dict[int, MonthlySummary] = {}
    for s in MonthlySummary.objects.filter(firm__in=firms, month=month).order_by("revision"):
        latest[s.firm_id] = s
    slices = {
        r.summary_id: r
        for r in SummaryReview.objects.filter(
            bank=bank, summary_id__in=[s.pk for s in latest.values()]
        )
    }
    due = filing_due(month)
    rows = []
    for firm in firms:
        figures = computed[firm.pk]
        record = latest.get(firm.pk)
        review = slices.get(record.pk) if record else None
        flags = figures["flags"] + summary_filing_flags(
            record, figures, due, firm.pk, month, review.snapshot if review else {}
        )
        rows.append(
            {
                "firm": firm.pk,
                "firm_name": firm.name,
                "ntn": firm.ntn,
                "status": record.status if record else Status.DRAFT,
                "review_status": review.status if review else None,
                "revision": record.revision if record else None,
                "summary_id": record.pk if record and record.status != Status.DRAFT else None,
                "review_id": review.pk if review else None,
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
