from django.db import models

from exporters.models import Firm
from ledger.models import RATE, Account

from .days import SUM


class ClientMonth(models.Model):
    """A firm's standing receipts (rules.md §9) of one calendar month, ESFCA, client,
    client country and pair of reference rates, summed: what the dashboard's regions and
    top clients read instead of twelve months of receipts.

    Kept with ``ReceiptDay`` in the transaction of every receipt written and every receipt
    reversed (the firm locked); ``manage.py esfca_verify`` proves it equal to a recompute
    from the receipts. A reference rate of 0 stands for none stored, as in ``ReceiptDay``;
    ``rate_day`` is the day whose rate table values such a non-USD receipt (its value
    date), the month's first day for every other receipt, so that the sums of a row all
    share one USD equivalent rate.
    """

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, db_index=False)
    month = models.DateField()
    esfca = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    client_name = models.CharField(max_length=200)
    client_country = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    ref_buy = models.DecimalField(**RATE)
    ref_buy_usd = models.DecimalField(**RATE)
    rate_day = models.DateField()
    receipts = models.PositiveIntegerField()
    amount = models.DecimalField(**SUM)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "firm",
                    "month",
                    "esfca",
                    "client_name",
                    "client_country",
                    "ref_buy",
                    "ref_buy_usd",
                    "rate_day",
                ],
                name="clientmonth_unique_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.firm_id} {self.month:%Y-%m} {self.client_name} x{self.receipts}"
