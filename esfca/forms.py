"""Web forms: they parse text into typed values and show the services' refusals.

No rule lives here: limits, categories, payees and rates are judged by the services, whose
``InvalidInput`` details are put back on the fields (``show_refusal``).
"""

import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from exporters.models import Bank

from .imports import ImportFileError, file_size_check
from .models import Allocation, PurposeCode

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AMOUNT_INPUT = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
COUNTRY_INPUT = forms.TextInput(
    attrs={"maxlength": 2, "size": 3, "autocapitalize": "characters", "pattern": "[A-Za-z]{2}"}
)


# Thousands separators as people type them, in either grouping: 1,234,567.89 or 12,34,567.89.
GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{2,3})+(\.\d*)?")
MAX_DIGITS = 15


class AmountField(forms.DecimalField):
    """A decimal as people type it: thousands separators accepted (the screens show them);
    an exponent (``1e3``) or more than 15 digits refused, saying so, never read as a
    figure nobody typed."""

    default_error_messages = {
        "exponent": _("Write the number out in full, without an exponent."),
        "digits": _("Use at most %(max)s digits."),
    }

    def to_python(self, value):
        if isinstance(value, str):
            text = value.strip()
            if "e" in text.lower() and any(c.isdigit() for c in text):
                raise ValidationError(self.error_messages["exponent"], code="exponent")
            if GROUPED.fullmatch(text):
                text = text.replace(",", "")
            if sum(c.isdigit() for c in text) > MAX_DIGITS:
                raise ValidationError(
                    self.error_messages["digits"], code="digits", params={"max": MAX_DIGITS}
                )
            value = text
        return super().to_python(value)


def _country(value: str) -> str:
    return (value or "").strip().upper()


class ServiceForm(forms.Form):
    """A form whose cleaned data goes to one service as keyword arguments."""

    @classmethod
    def initial_from(cls, movement) -> dict:
        """The fields of a recorded movement, to start its correction from (rules.md §9);
        the reference is left empty: the corrected movement needs a new one."""
        initial = {}
        for name in cls.base_fields:
            value = getattr(movement, name, None)
            if isinstance(value, models.Model):
                value = value.pk
            initial[name] = getattr(value, "amount", value)  # Money → its Decimal
        return {**initial, "reference": ""}

    def show_refusal(self, exc) -> None:
        """Put a service's refusal on the form: field messages on their fields."""
        details = getattr(exc, "details", {}) or {}
        if getattr(exc, "code", "") == "validation_error" and details:
            for name, messages in details.items():
                target = name if name in self.fields else None
                for message in messages if isinstance(messages, list) else [messages]:
                    self.add_error(target, message)
            return
        self.add_error(None, exc.message)


class ReceiptForm(ServiceForm):
    RETAIN_CHOICES = [("max", _("The allowed maximum")), ("amount", _("This amount:"))]

    reference = forms.CharField(label=_("Reference"), max_length=120)
    value_date = forms.DateField(label=_("Value date"), widget=DATE_INPUT)
    currency = forms.ChoiceField(label=_("Currency"))
    amount = AmountField(label=_("Amount received"), widget=AMOUNT_INPUT)
    retain_mode = forms.ChoiceField(
        label=_("Retain in the ESFCA"),
        choices=RETAIN_CHOICES,
        initial="max",
        widget=forms.RadioSelect,
    )
    retain_amount = AmountField(label=_("Amount to retain"), required=False, widget=AMOUNT_INPUT)
    conversion_rate = AmountField(
        label=_("Bank's conversion rate (PKR per unit)"),
        required=False,
        widget=AMOUNT_INPUT,
        help_text=_("Leave empty to use the buying rate of the value date."),
    )
    client_name = forms.CharField(label=_("Client"), max_length=200)
    client_country = forms.CharField(
        label=_("Client country (ISO code)"), max_length=2, widget=COUNTRY_INPUT
    )
    purpose_code = forms.ChoiceField(label=_("Purpose code"), required=False)
    bank = forms.ChoiceField(
        label=_("Bank credited"),
        required=False,
        help_text=_("Needed when the firm holds the currency at more than one bank."),
    )

    def __init__(self, *args, currencies=(), banks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]
        if len(banks) > 1:  # rules.md §11: a receipt names its bank when it could be several
            self.fields["bank"].choices = [("", _("— the only one —"))] + [(b, b) for b in banks]
        else:
            del self.fields["bank"]
        self.fields["purpose_code"].choices = [("", _("— none —"))] + [
            (p.code, f"{p.code} {p.description}") for p in PurposeCode.objects.all()
        ]

    @classmethod
    def initial_from(cls, receipt) -> dict:
        asked = receipt.retain_requested
        return {
            **super().initial_from(receipt),
            "retain_mode": "max" if asked == "max" else "amount",
            "retain_amount": None if asked == "max" else Decimal(asked),
            # The bank's own rate is part of the request; the table's is looked up again.
            "conversion_rate": receipt.conversion_rate if receipt.rate_source == "bank" else None,
            # The bank credited, for a firm holding the currency at several banks (§11).
            "bank": receipt.esfca.bank.code if receipt.esfca.bank_id else "",
        }

    def clean_client_country(self):
        return _country(self.cleaned_data["client_country"])

    def clean(self):
        data = super().clean()
        # "This amount" with no amount is a question left unanswered, never the maximum.
        unanswered = data.get("retain_mode") == "amount" and data.get("retain_amount") is None
        if unanswered and "retain_amount" not in self.errors:  # not already "not a number"
            self.add_error(
                "retain_amount", _("Enter the amount to retain, or choose the allowed maximum.")
            )
        return data

    def retain(self):
        data = self.cleaned_data
        if data.get("retain_mode") == "amount":
            return data["retain_amount"]
        return "max"

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "reference": d["reference"].strip(),
            "value_date": d["value_date"],
            "amount": d["amount"],
            "currency": d["currency"],
            "retain": self.retain(),
            "conversion_rate": d.get("conversion_rate"),
            "client_name": d["client_name"].strip(),
            "client_country": d["client_country"],
            "purpose_code": d.get("purpose_code") or "",
            "bank": d.get("bank") or "",
        }


class ReceiptPreviewForm(forms.Form):
    """The subset of the receipt form the live preview needs (all optional while typing)."""

    value_date = forms.DateField(required=False)
    currency = forms.CharField(required=False)
    amount = AmountField(required=False)
    retain_mode = forms.CharField(required=False)
    retain_amount = AmountField(required=False)
    conversion_rate = AmountField(required=False)

    def ready(self) -> bool:
        d = self.cleaned_data if self.is_valid() else {}
        return bool(d.get("value_date") and d.get("currency") and d.get("amount"))

    def preview_kwargs(self) -> dict:
        d = self.cleaned_data
        retain = d.get("retain_amount") if d.get("retain_mode") == "amount" else "max"
        return {
            "value_date": d["value_date"],
            "amount": d["amount"],
            "currency": d["currency"],
            "retain": "max" if retain is None else retain,
            "conversion_rate": d.get("conversion_rate"),
        }


class AllocationForm(ServiceForm):
    reference = forms.CharField(label=_("Reference"), max_length=120)
    value_date = forms.DateField(label=_("Value date"), widget=DATE_INPUT)
    currency = forms.ChoiceField(label=_("From the ESFCA in"))
    category = forms.ChoiceField(label=_("Purpose"), choices=Allocation.Category.choices)
    amount = AmountField(label=_("Amount"), widget=AMOUNT_INPUT)
    payee_name = forms.CharField(label=_("Payee"), max_length=200)
    payee_country = forms.CharField(
        label=_("Payee country (ISO code)"), max_length=2, widget=COUNTRY_INPUT
    )
    investee_name = forms.CharField(label=_("Investee company"), max_length=200, required=False)
    investee_country = forms.CharField(
        label=_("Investee country (ISO code)"), max_length=2, required=False, widget=COUNTRY_INPUT
    )
    sbp_approval_reference = forms.CharField(
        label=_("SBP approval reference"), max_length=120, required=False
    )

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def clean_payee_country(self):
        return _country(self.cleaned_data["payee_country"])

    def clean_investee_country(self):
        return _country(self.cleaned_data.get("investee_country"))

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "reference": d["reference"].strip(),
            "value_date": d["value_date"],
            "category": d["category"],
            "amount": d["amount"],
            "currency": d["currency"],
            "payee_name": d["payee_name"].strip(),
            "payee_country": d["payee_country"],
            "investee_name": (d.get("investee_name") or "").strip(),
            "investee_country": d.get("investee_country") or "",
            "sbp_approval_reference": (d.get("sbp_approval_reference") or "").strip(),
        }


class ConversionForm(ServiceForm):
    reference = forms.CharField(label=_("Reference"), max_length=120)
    value_date = forms.DateField(label=_("Value date"), widget=DATE_INPUT)
    currency = forms.ChoiceField(label=_("From the ESFCA in"))
    amount = AmountField(label=_("Amount to convert"), widget=AMOUNT_INPUT)
    rate = AmountField(
        label=_("Bank's rate (PKR per unit)"),
        required=False,
        widget=AMOUNT_INPUT,
        help_text=_("Leave empty to use the buying rate of the value date."),
    )

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "reference": d["reference"].strip(),
            "value_date": d["value_date"],
            "amount": d["amount"],
            "currency": d["currency"],
            "rate": d.get("rate"),
        }


class TransferForm(ServiceForm):
    reference = forms.CharField(label=_("Reference"), max_length=120)
    value_date = forms.DateField(label=_("Value date"), widget=DATE_INPUT)
    from_account = forms.TypedChoiceField(label=_("From"), coerce=int)
    to_account = forms.TypedChoiceField(label=_("To"), coerce=int)
    amount = AmountField(label=_("Amount (in the source currency)"), widget=AMOUNT_INPUT)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            (a.pk, f"{a.currency} · {a.bank.code if a.bank else ''} {a.iban}") for a in accounts
        ]
        self.fields["from_account"].choices = choices
        self.fields["to_account"].choices = choices

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "reference": d["reference"].strip(),
            "value_date": d["value_date"],
            "from_account_id": d["from_account"],
            "to_account_id": d["to_account"],
            "amount": d["amount"],
        }


class ReversalForm(ServiceForm):
    """The reversal's own reference and the reason, which rules.md §9 requires."""

    reversal_reference = forms.CharField(label=_("Reference of the reversal"), max_length=120)
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"reference": d["reversal_reference"].strip(), "reason": d["reason"].strip()}


class FirmAccountForm(ServiceForm):
    """A firm's PKR account or ESFCA, opened by a platform admin (``firm_account_open``)."""

    bank = forms.ModelChoiceField(label=_("Bank"), queryset=Bank.objects.all())
    currency = forms.ChoiceField(
        label=_("Currency"),
        choices=[(c, c) for c in settings.CURRENCIES],
        help_text=_("PKR opens the firm's PKR account; any other currency an ESFCA."),
    )
    iban = forms.CharField(label=_("IBAN"), max_length=34)

    def clean_iban(self):
        return "".join(self.cleaned_data["iban"].split()).upper()

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self):
        """A file dropped as it streamed in (``esfca.limits``) keeps only its size."""
        upload = self.cleaned_data["file"]
        try:
            file_size_check(upload.size)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload


class ReviewDecisionForm(forms.Form):
    """A bank's decision on its slice: no default (the reviewer chooses), and accepting
    with open flags needs ``confirm_flags`` ticked."""

    DECISIONS = [
        ("", _("Choose…")),
        ("accepted", _("Accept")),
        ("returned", _("Return to the firm")),
    ]
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS)
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm_flags = forms.BooleanField(
        label=_("I have read the open flags and accept the slice with them"), required=False
    )

    def __init__(self, *args, open_flags: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.open_flags = open_flags
        if not open_flags:
            del self.fields["confirm_flags"]

    def clean(self):
        data = super().clean()
        if data.get("decision") == "accepted" and self.open_flags and not data.get("confirm_flags"):
            self.add_error(
                "confirm_flags",
                _("%(n)d flags are open: confirm that you accept the slice with them.")
                % {"n": self.open_flags},
            )
        return data
