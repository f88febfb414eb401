"""A firm's movement lists (receipts, allocations, conversions, transfers) for every door:
the API's pages, the web's tables and their CSV files.

One place for which rows a list holds (the firm's; in a month when asked), their order,
the related rows loaded with them and the filters the web offers. Named for what the doors
share, the lists: ``esfca/models/movements.py`` already names the rows themselves. Tenant
scoping is done before: every function takes the ``Firm`` its caller fetched through
``exporters.selectors``, and the ``BankSlice`` of it the caller sees (rules.md §11: a
bank's reviewer lists only the movements on the firm's accounts at its bank).
"""

from dataclasses import dataclass

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from exporters.models import Firm
from exporters.selectors import WHOLE_FIRM, BankSlice
from exporters.validators import ISO_COUNTRIES

from .models import Allocation, Conversion, Receipt, Transfer
from .models.movements import FOREIGN_CURRENCIES

Month = tuple[int, int]  # (year, month number)

OLDEST_FIRST = ("value_date", "id")  # the API's pages
NEWEST_FIRST = ("-value_date", "-id")  # the web's tables and CSV files


@dataclass(frozen=True)
class Movements:
    """One kind of movement list: its model, and the related rows that name each movement's
    account and bank (the API shows the bank; the web's tables do not load them)."""

    model: type[models.Model]
    accounts: tuple[str, ...] = ()
    banks: tuple[str, ...] = ("esfca__bank_id",)  # the banks a movement is on (§11)


RECEIPTS = Movements(Receipt, accounts=("esfca__bank",))
ALLOCATIONS = Movements(Allocation, accounts=("esfca__bank",))
CONVERSIONS = Movements(
    Conversion, accounts=("esfca__bank",), banks=("esfca__bank_id", "pkr_account__bank_id")
)
# A transfer shows its accounts' ids only.
TRANSFERS = Movements(Transfer, banks=("from_account__bank_id", "to_account__bank_id"))


def in_month(rows: QuerySet, month: Month | None) -> QuerySet:
    """The movements whose value date falls in ``month``; all of them when it is None."""
    if month is None:
        return rows
    year, number = month
    return rows.filter(value_date__year=year, value_date__month=number)


def movements(
    kind: Movements,
    firm: Firm,
    *,
    month: Month | None = None,
    newest_first: bool = False,
    with_accounts: bool = False,
    banks: BankSlice = WHOLE_FIRM,
) -> QuerySet:
    """The firm's movements of ``kind`` (those on the accounts of ``banks``): oldest first
    unless ``newest_first``; with each row's account and bank loaded in the same query when
    ``with_accounts``."""
    rows = kind.model.objects.filter(banks.accounts(*kind.banks), firm=firm)
    if with_accounts and kind.accounts:
        rows = rows.select_related(*kind.accounts)
    return in_month(rows, month).order_by(*(NEWEST_FIRST if newest_first else OLDEST_FIRST))


# --- the web's filters (django-filter) -------------------------------------------------------


class MovementFilter(django_filters.FilterSet):
    """The filters every movement table offers: the month and the currency."""

    kind: Movements  # the list it filters

    month = django_filters.CharFilter(
        label=_("Month (YYYY-MM)"),
        method="filter_month",
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2025-11"}),
    )
    currency = django_filters.ChoiceFilter(
        label=_("Currency"), field_name="currency", choices=FOREIGN_CURRENCIES
    )

    def filter_month(self, queryset, name, value):
        try:
            year, month = (int(part) for part in value.split("-"))
        except ValueError:
            return queryset.none()
        if not (1 <= year <= 9999 and 1 <= month <= 12):  # no value date in such a month
            return queryset.none()
        return in_month(queryset, (year, month))


COUNTRY_CHOICES = sorted((c, c) for c in ISO_COUNTRIES)


class ReceiptFilter(MovementFilter):
    kind = RECEIPTS
    client = django_filters.CharFilter(
        label=_("Client"), field_name="client_name", lookup_expr="icontains"
    )
    country = django_filters.ChoiceFilter(
        label=_("Client country"), field_name="client_country", choices=COUNTRY_CHOICES
    )

    class Meta:
        model = Receipt
        fields = []


class AllocationFilter(MovementFilter):
    kind = ALLOCATIONS
    category = django_filters.ChoiceFilter(
        label=_("Purpose"), field_name="category", choices=Allocation.Category.choices
    )
    country = django_filters.ChoiceFilter(
        label=_("Payee country"), field_name="payee_country", choices=COUNTRY_CHOICES
    )

    class Meta:
        model = Allocation
        fields = []


def filtered(
    filterset_class: type[MovementFilter], firm: Firm, params, banks: BankSlice = WHOLE_FIRM
) -> MovementFilter:
    """A web table of the firm's movements (of the slice ``banks``), newest first, filtered
    by the query ``params`` (its ``.qs`` is the rows, the filter set itself the form the
    page shows)."""
    rows = movements(filterset_class.kind, firm, newest_first=True, banks=banks)
    return filterset_class(params or None, queryset=rows)
