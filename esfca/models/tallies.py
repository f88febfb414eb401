from django.db import models

from .days import SUM, ReceiptSums


class ReceiptTally(ReceiptSums):
    """A firm's standing receipts (rules.md §9) of one calendar month, ESFCA, client
    country and purpose code, summed: what a monthly summary's receipt figures (rules.md
    §5: totals, by client country, by purpose code; per bank through the ESFCA, §11) read
    instead of every receipt of the month.

    Kept with ``ReceiptDay`` in the transaction of every receipt written and every receipt
    reversed (the firm locked); ``manage.py esfca_verify`` proves it equal to a recompute
    from the receipts.
    """

    month = models.DateField(help_text="The first day of the receipts' value-date month")
    client_country = models.CharField(max_length=2)
    purpose_code = models.CharField(max_length=8, blank=True)
    allowed_retention = models.DecimalField(**SUM)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "month", "esfca", "client_country", "purpose_code"],
                name="receipttally_unique_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.firm_id} {self.month:%Y-%m} {self.currency} x{self.receipts}"
