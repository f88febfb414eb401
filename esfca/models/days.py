from django.db import models

from exporters.models import Firm
from ledger.models import RATE, Account

SUM = {"max_digits": 20, "decimal_places": 2}


class ReceiptSums(models.Model):
    """What every stored sum of a firm's receipts holds (kept by
    ``esfca/services/sums.py``): the ESFCA credited, its currency, a count and the figures."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, db_index=False)
    esfca = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    receipts = models.PositiveIntegerField()
    amount = models.DecimalField(**SUM)
    retained = models.DecimalField(**SUM)
    converted = models.DecimalField(**SUM)
    pkr_credited = models.DecimalField(**SUM)
    tax_withheld = models.DecimalField(**SUM)

    class Meta:
        abstract = True


class ReceiptDay(ReceiptSums):
    """A firm's standing receipts (rules.md §9) of one value date, ESFCA and pair of
    reference rates, summed: what a month's §2 position reads instead of every receipt, so
    a receipt costs the same at the first and the ten-thousandth of its month.

    Kept in the transaction of every receipt written and every receipt reversed (the firm
    locked); ``manage.py esfca_verify`` proves it equal to a recompute from the receipts.
    A reference rate of 0 stands for none stored (a USD receipt, or rates read from the
    table of its day), so that the unique key has no NULLs.
    """

    value_date = models.DateField()
    ref_buy = models.DecimalField(**RATE)
    ref_buy_usd = models.DecimalField(**RATE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "value_date", "esfca", "ref_buy", "ref_buy_usd"],
                name="receiptday_unique_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.firm_id} {self.value_date} {self.currency} x{self.receipts}"
