"""The months a firm's pages can open: every month with a movement or a summary, across
years, with its filing state and whether filing is overdue (rules.md §5: due by a
parameter day of the next month)."""

from dataclasses import dataclass
from datetime import date
from itertools import groupby

from esfca.models import Allocation, Conversion, MonthlySummary, Parameter, Receipt, Transfer
from exporters.models import Firm

from . import flags as F
from .figures import filing_due

Status = MonthlySummary.Status


@dataclass(frozen=True)
class MonthChoice:
    first: date
    status: str  # the latest revision's, ``draft`` when none was filed
    due: date
    overdue: bool  # past its due day and never filed


@dataclass(frozen=True)
class MonthPicker:
    years: list[tuple[int, list[MonthChoice]]]  # newest year first, newest month first
    selected: MonthChoice


def _months_with_data(firm: Firm) -> set[date]:
    months: set[date] = set()
    for model in (Receipt, Allocation, Conversion, Transfer):
        months.update(model.objects.filter(firm=firm).dates("value_date", "month"))
    return months


def month_picker(firm: Firm, *, today: date, selected: date) -> MonthPicker:
    """This month, the selected one and every month with data, each with its status; a
    month is overdue once ``today`` is past its due day and no revision was ever filed."""
    latest: dict[date, str] = {}
    ever_filed: set[date] = set()
    summaries = MonthlySummary.objects.filter(firm=firm).order_by("month", "revision")
    for month, status in summaries.values_list("month", "status"):
        latest[month] = status
        if status != Status.DRAFT:
            ever_filed.add(month)
    rows = Parameter.objects.filter(key=Parameter.Key.FILING_DUE_DAY)
    parameters = F.Parameters(
        F.ParameterRow(key, since, value)
        for key, since, value in rows.values_list("key", "effective_from", "value")
    )
    months = _months_with_data(firm) | latest.keys() | {today.replace(day=1), selected}
    choices = []
    for first in sorted(months, reverse=True):
        due = filing_due(first, parameters)
        overdue = today > due and first not in ever_filed
        choices.append(MonthChoice(first, latest.get(first, Status.DRAFT), due, overdue))
    years = [(year, list(group)) for year, group in groupby(choices, key=lambda c: c.first.year)]
    return MonthPicker(years, next(c for c in choices if c.first == selected))
