"""Serializers parse requests and shape responses; they hold no business rule.

Input serializers reject unknown fields and read money as ``Decimal`` within the places
the contract allows; the services decide everything else (rules.md). Output figures are
strings: money with 2 decimals, rates with at least 4 (as SBP quotes them).
"""

import re
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from esfca.models import Allocation
from exporters.models import Bank, Firm, Membership
from ledger.fx.arith import RATE_QUANTUM
from ledger.models import RATE, FxRate

CENT = Decimal("0.01")
MONEY_DIGITS = {"max_digits": 14, "decimal_places": 2}
MAX_ID = 2**63 - 1


def money_str(value) -> str | None:
    """``Decimal("12500")`` → ``"12500.00"`` (never exponent notation)."""
    if value is None:
        return None
    return format(Decimal(value).quantize(CENT), "f")


def decimal_str(value, *, min_places: int, max_places: int = 6) -> str | None:
    """A rate with at least ``min_places`` decimals and no trailing zeros beyond them."""
    if value is None:
        return None
    value = Decimal(value)
    exponent = value.normalize().as_tuple().exponent
    places = min(max(min_places, -exponent if isinstance(exponent, int) else 0), max_places)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def rate_str(value) -> str | None:
    return decimal_str(value, min_places=4)


# --- output fields (documented as strings in the OpenAPI schema) -----------------------------


@extend_schema_field({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "12500.00"})
class MoneyOut(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return money_str(getattr(value, "amount", value))


@extend_schema_field({"type": "string", "pattern": r"^\d+\.\d{4,6}$", "example": "280.7000"})
class RateOut(serializers.Field):
    def __init__(self, *, min_places: int = 4, **kwargs):
        self.min_places = min_places
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return decimal_str(value, min_places=self.min_places)


@extend_schema_field({"type": "string", "pattern": r"^\d+\.\d{2,6}$", "example": "0.50"})
class RatioOut(RateOut):
    def __init__(self, **kwargs):
        super().__init__(min_places=2, **kwargs)


@extend_schema_field({"type": "string", "nullable": True})
class BlankAsNull(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


# --- input building blocks --------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, alongside any other field errors."""

    def to_internal_value(self, data):
        unknown = []
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                for key in unknown:
                    exc.detail[key] = ["Unknown field."]
            raise
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return value


def Money(**kwargs):
    return serializers.DecimalField(**MONEY_DIGITS, coerce_to_string=True, **kwargs)


def Rate(**kwargs):
    return serializers.DecimalField(**RATE, coerce_to_string=True, **kwargs)


def Text(max_length: int, **kwargs):
    return serializers.CharField(max_length=max_length, trim_whitespace=False, **kwargs)


def OptionalText(max_length: int):
    return Text(max_length, required=False, allow_blank=True, allow_null=True, default="")


@extend_schema_field(
    {
        "type": "string",
        "description": '"max" or an amount with at most 2 decimals',
        "example": "max",
    }
)
class RetainField(serializers.Field):
    """``"max"`` (the default) or an amount, as for any other money field."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, default="max", **kwargs)

    def to_internal_value(self, data):
        if data is None or data == "max":
            return "max"
        return Money().run_validation(data)

    def to_representation(self, value):
        return value


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


def month_param(value: str | None) -> tuple[int, int] | None:
    """``?month=YYYY-MM`` → (year, month); absent → None; anything else refused."""
    if value is None:
        return None
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise serializers.ValidationError({"month": ["Use a month as YYYY-MM."]})
    return int(match[1]), int(match[2])


def bank_by_code(code: str) -> Bank:
    bank = Bank.objects.filter(code=code).first()
    if bank is None:
        raise serializers.ValidationError(f"No bank has code {code}.")
    return bank


# --- auth -------------------------------------------------------------------------------------


class TokenRequest(StrictSerializer):
    username = Text(150)
    password = Text(4096, style={"input_type": "password"})
    otp = Text(
        32,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "The second factor: the 6-digit code of the authenticator app (TOTP, RFC 6238) or "
            "one of the recovery codes. Required for every user who has enrolled one (bank "
            "reviewers and platform admins must)."
        ),
    )


class TokenResponse(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(help_text="When the token stops working.")


# --- onboarding -------------------------------------------------------------------------------


class BankIn(StrictSerializer):
    code = serializers.RegexField(
        r"^[A-Z]{4}$", error_messages={"invalid": "Use the 4-letter bank code of the IBAN."}
    )
    name = Text(200)


class BankOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class FirmIn(StrictSerializer):
    name = Text(200)
    ntn = Text(15)
    kind = serializers.ChoiceField(choices=Firm.Kind.choices)
    registration_body = serializers.ChoiceField(
        choices=Firm.RegistrationBody.choices, required=False, allow_blank=True, default=""
    )
    registration_number = Text(64, required=False, allow_blank=True, default="")
    registration_expires = serializers.DateField(required=False, allow_null=True, default=None)
    active_taxpayer = serializers.BooleanField(required=False, default=False)


class FirmOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ntn = serializers.CharField()
    kind = serializers.CharField()
    registration_body = serializers.CharField()
    registration_number = serializers.CharField()
    registration_expires = serializers.DateField(allow_null=True)
    active_taxpayer = serializers.BooleanField()


class AccountIn(StrictSerializer):
    bank = Text(8)
    currency = serializers.ChoiceField(choices=[(c, c) for c in settings.CURRENCIES])
    iban = Text(34)

    def validate_bank(self, value):
        return bank_by_code(value)


class AccountOut(serializers.Serializer):
    id = serializers.IntegerField()
    bank = serializers.CharField(source="bank.code")
    currency = serializers.CharField()
    iban = serializers.CharField()
    balance = MoneyOut()
    kind = serializers.CharField()


class BalancesOut(serializers.Serializer):
    accounts = AccountOut(many=True)


class UserIn(StrictSerializer):
    username = Text(150)
    password = Text(4096, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    firm = IdField(required=False, allow_null=True, default=None)
    bank = Text(8, required=False, allow_null=True, allow_blank=True, default=None)

    def validate_firm(self, value):
        if value is None:
            return None
        firm = Firm.objects.filter(pk=value).first()
        if firm is None:
            raise serializers.ValidationError(f"No firm has id {value}.")
        return firm

    def validate_bank(self, value):
        return bank_by_code(value) if value else None


class UserOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    firm = serializers.IntegerField(allow_null=True)
    bank = serializers.CharField(allow_null=True)
    otp_uri = serializers.CharField(
        allow_null=True,
        help_text=(
            "A bank reviewer's second factor, enrolled at creation and answered only here: "
            "an otpauth://totp/ URI (SHA1, 6 digits, 30 s) for the reviewer's authenticator "
            "app. Null for firm roles."
        ),
    )
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="The reviewer's single-use recovery codes, answered only here (else empty).",
    )


# --- rates ------------------------------------------------------------------------------------


def _rate_currencies() -> list[str]:
    return sorted({*settings.CURRENCIES, *getattr(settings, "FX_CURRENCIES", ())} - {"PKR"})


class FxRateIn(StrictSerializer):
    currency = serializers.ChoiceField(choices=_rate_currencies())
    date = serializers.DateField()
    buy = Rate(min_value=RATE_QUANTUM)
    sell = Rate(min_value=RATE_QUANTUM)
    source = serializers.ChoiceField(
        choices=FxRate.Source.choices, required=False, default=FxRate.Source.MANUAL
    )


class FxRateQuery(serializers.Serializer):
    currency = Text(3, required=False)
    date = serializers.DateField(required=False)
    source = serializers.ChoiceField(choices=FxRate.Source.choices, required=False)


class FxRateOut(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField()
    date = serializers.DateField()
    buy = RateOut()
    sell = RateOut()
    source = serializers.CharField()
    status = serializers.CharField(
        help_text="active (used), held (moved beyond the guard: used by nothing until a "
        "platform admin approves it) or rejected (rules.md §10)."
    )
    note = serializers.CharField(help_text="Why a held rate is held, or who entered it.")


# --- money movements --------------------------------------------------------------------------


class ReceiptIn(StrictSerializer):
    reference = Text(120)
    value_date = serializers.DateField()
    amount = Money()
    currency = Text(3)
    retain = RetainField()
    conversion_rate = Rate(required=False, allow_null=True, default=None)
    client_name = Text(200)
    client_country = Text(2)
    purpose_code = OptionalText(8)
    bank = OptionalText(8)  # which ESFCA, when the firm has one in that currency at several banks
    # The day the bank sold the converted part for PKR (default: the value date), §6.3.
    converted_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate_purpose_code(self, value):
        return value or ""

    def validate_bank(self, value):
        return value or ""


class RuleOut(serializers.Serializer):
    effective_from = serializers.DateField(source="rule_effective_from")
    ratio = RatioOut(source="rule_ratio")
    monthly_floor_usd = MoneyOut(source="rule_monthly_floor_usd")
    basis = serializers.CharField(source="rule_basis")


class ReceiptOut(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    value_date = serializers.DateField()
    amount = MoneyOut()
    currency = serializers.CharField()
    retained = MoneyOut()
    converted = MoneyOut()
    allowed_retention = MoneyOut()
    conversion_rate = RateOut()
    converted_on = serializers.DateField()
    rate_source = serializers.CharField()
    tax_rate = RateOut()
    tax_withheld = MoneyOut()
    pkr_credited = MoneyOut()
    rule = RuleOut(source="*")
    retain = serializers.CharField(source="retain_requested")
    client_name = serializers.CharField()
    client_country = serializers.CharField()
    purpose_code = BlankAsNull()
    esfca = serializers.IntegerField(source="esfca_id")
    bank = serializers.CharField(source="esfca.bank.code")
    created_at = serializers.DateTimeField()


class AllocationIn(StrictSerializer):
    reference = Text(120)
    value_date = serializers.DateField()
    # Any text: an unknown category is the domain's refusal (category_not_permitted).
    category = Text(100)
    amount = Money()
    currency = Text(3)
    payee_name = Text(200)
    payee_country = Text(2)
    investee_name = OptionalText(200)
    investee_country = OptionalText(2)
    sbp_approval_reference = OptionalText(120)
    bank = OptionalText(8)

    def validate(self, attrs):
        for key in ("investee_name", "investee_country", "sbp_approval_reference", "bank"):
            attrs[key] = attrs.get(key) or ""
        return attrs


class AllocationOut(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    value_date = serializers.DateField()
    category = serializers.ChoiceField(choices=Allocation.Category.choices)
    amount = MoneyOut()
    currency = serializers.CharField()
    payee_name = serializers.CharField()
    payee_country = serializers.CharField()
    investee_name = BlankAsNull()
    investee_country = BlankAsNull()
    sbp_approval_reference = BlankAsNull()
    balance_after = MoneyOut()
    usd_equivalent = MoneyOut(allow_null=True)
    esfca = serializers.IntegerField(source="esfca_id")
    bank = serializers.CharField(source="esfca.bank.code")
    created_at = serializers.DateTimeField()


class ConversionIn(StrictSerializer):
    reference = Text(120)
    value_date = serializers.DateField()
    amount = Money()
    currency = Text(3)
    rate = Rate(required=False, allow_null=True, default=None)
    bank = OptionalText(8)

    def validate_bank(self, value):
        return value or ""


class ConversionOut(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    value_date = serializers.DateField()
    amount = MoneyOut()
    currency = serializers.CharField()
    rate = RateOut()
    pkr_amount = MoneyOut()
    esfca = serializers.IntegerField(source="esfca_id")
    bank = serializers.CharField(source="esfca.bank.code")
    pkr_account = serializers.IntegerField(source="pkr_account_id")
    created_at = serializers.DateTimeField()


class TransferIn(StrictSerializer):
    reference = Text(120)
    value_date = serializers.DateField()
    # Named as transfer_create names them.
    from_account = IdField(source="from_account_id")
    to_account = IdField(source="to_account_id")
    amount = Money()


class TransferOut(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    value_date = serializers.DateField()
    amount = MoneyOut()
    currency = serializers.CharField()
    from_account = serializers.IntegerField(source="from_account_id")
    to_account = serializers.IntegerField(source="to_account_id")
    rate = RateOut()
    to_amount = MoneyOut()
    created_at = serializers.DateTimeField()


# --- reversals and corrections (rules.md §9) --------------------------------------------------


class MovementLinkOut(serializers.Serializer):
    """The movement that reversed this one, or the one a correction recorded instead."""

    id = serializers.IntegerField()
    reference = serializers.CharField()


class KindLinkOut(serializers.Serializer):
    """The movement this one reverses, or corrects: its kind and id."""

    kind = serializers.CharField()
    id = serializers.IntegerField()


def _related(movement, name: str):
    """A reverse one-to-one link of ``movement``, or None."""
    try:
        return getattr(movement, name)
    except ObjectDoesNotExist:
        return None


def _kind_link(movement) -> dict | None:
    return (
        None if movement is None else {"kind": type(movement).__name__.lower(), "id": movement.pk}
    )


def _movement_link(movement) -> dict | None:
    return None if movement is None else {"id": movement.pk, "reference": movement.reference}


class LinksOut(serializers.Serializer):
    """What a movement's own page shows of §9: its reversal, what it reverses or corrects."""

    reason = BlankAsNull()
    reversed_by = serializers.SerializerMethodField()
    reverses = serializers.SerializerMethodField()
    corrected_into = serializers.SerializerMethodField()
    corrects = serializers.SerializerMethodField()

    @extend_schema_field(MovementLinkOut(allow_null=True))
    def get_reversed_by(self, movement):
        return _movement_link(_related(movement, "reversed_by"))

    @extend_schema_field(KindLinkOut(allow_null=True))
    def get_reverses(self, movement):
        return _kind_link(movement.reverses)

    @extend_schema_field(MovementLinkOut(allow_null=True))
    def get_corrected_into(self, movement):
        return _movement_link(_related(movement, "corrected_into"))

    @extend_schema_field(KindLinkOut(allow_null=True))
    def get_corrects(self, movement):
        return _kind_link(movement.corrects)


class ReceiptDetailOut(LinksOut, ReceiptOut):
    pass


class AllocationDetailOut(LinksOut, AllocationOut):
    pass


class ConversionDetailOut(LinksOut, ConversionOut):
    pass


class TransferDetailOut(LinksOut, TransferOut):
    pass


class ReverseIn(StrictSerializer):
    reference = Text(120)
    reason = Text(2000)


def correct_in(kind: str, body: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{"reference", "reason", "<kind>": {the kind's own body}}``."""
    return type(f"{kind.title()}CorrectIn", (ReverseIn,), {kind: body()})


def correct_out(kind: str, out: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{"reversal": {...}, "<kind>": {...}}``."""
    return type(
        f"{kind.title()}CorrectOut", (serializers.Serializer,), {"reversal": out(), kind: out()}
    )


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorOut(serializers.Serializer):
    error = ErrorDetail()
