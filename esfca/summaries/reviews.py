"""What a bank reviewer reads (rules.md §5–§6, §11): the queue of its bank's slices of filed
summaries with their live flags, a slice they may see, and the portfolio of the bank's
firms for a month (each firm's slice at that bank).

Tenant scoping happens in ``exporters.selectors``: the queue holds the reviews of the
banks the user oversees, and a single review is found only among the firms the user may
see, and only its own bank's slice for a reviewer.
"""

from collections import defaultdict
from datetime import date, datetime

from django.db.models import DateField, Max, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from esfca import policy
from esfca.models import MonthlySummary, SummaryReview
from exporters.models import Bank, Firm, User
from exporters.selectors import (
    bank_slice,
    banks_overseen_by,
    firm_slice_for,
    firms_visible_to,
)
from ledger.models import Account, Entry

from . import flags as F
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


def changed_since_filing(reviews: list[SummaryReview]) -> dict[int, datetime]:
    """When the latest movement that changes each slice's filed month was recorded after
    the revision was filed (rules.md §6.8, §9), by review id (absent: none): a movement at
    the slice's bank dated in the month, or one on its ESFCAs dated before the month (the
    opening). One query for any number of slices, from the ledger's record times; the
    figure-by-figure difference is the summary page's (``figures.summary_detail``)."""
    filed = [r for r in reviews if r.summary.filed_at is not None]
    if not filed:
        return {}
    until = max(policy.month_bounds(r.summary.month)[1] for r in filed)
    rows = (
        Entry.objects.filter(
            account__kind__in=Account.BANK_KINDS,
            account__owner_id__in={r.summary.firm_id for r in filed},
            account__bank_id__in={r.bank_id for r in filed},
            transaction__value_date__lte=until,
            transaction__posted_at__gt=min(r.summary.filed_at for r in filed),
        )
        .annotate(month=TruncMonth("transaction__value_date", output_field=DateField()))
        .values_list("account__owner_id", "account__bank_id", "account__kind", "month")
        .annotate(at=Max("transaction__posted_at"))
        .order_by()
    )
    latest: dict[tuple[int, int], list[tuple[str, date, datetime]]] = defaultdict(list)
    for owner, bank, kind, month, at in rows:
        latest[(owner, bank)].append((kind, month, at))
    changed = {}
    for r in filed:
        s = r.summary
        times = [
            at
            for kind, month, at in latest.get((s.firm_id, r.bank_id), ())
            if at > s.filed_at
            and (month == s.month or (month < s.month and kind == Account.Kind.ESFCA))
        ]
        if times:
            changed[r.pk] = max(times)
    return changed


def review_rows(reviews: list[SummaryReview]) -> list[dict]:
    """Queue rows: each slice's flags as filed (its frozen snapshot: §6 and the §6.8 filing
    flags of that day), and a §6.8 ``changed_after_filing`` when a movement changing the
    month was recorded since (``changed_since_filing``). Nothing is recomputed: a fixed
    number of queries for any number of rows, months and firms."""
    changed = changed_since_filing(reviews)
    rows = []
    for r in reviews:
        s = r.summary
        flags = list((r.snapshot or {}).get("flags", []))
        if r.pk in changed:
            flags.append(
                F.flag(
                    8,
                    "changed_after_filing",
                    f"A movement at {r.bank.code} changing {month_label(s.month)} was recorded "
                    f"on {timezone.localdate(changed[r.pk])}, after filing on "
                    f"{timezone.localdate(s.filed_at)}: the summary shows what changed; the "
                    "month can be filed again.",
                    f"summary:{s.firm_id}/{month_label(s.month)}/r{s.revision}",
                )
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


def bank_portfolio(*, bank: Bank, month: date, stored: bool = True) -> dict:
    """Every firm with an account at ``bank``: the month's totals per currency of its
    accounts at ``bank`` (its slice, rules.md §11), retention ratio, flag count, filing
    status. ``stored=False``: recomputed from every receipt (the same)."""
    firms = list(
        Firm.objects.filter(pk__in=Account.objects.filter(bank=bank).values("owner_id")).order_by(
            "name", "pk"
        )
    )
    computed = summary_compute_many(firms=firms, month=month, banks=bank_slice(bank), stored=stored)
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
