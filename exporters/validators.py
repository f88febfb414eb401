"""Identifier formats of domain/rules.md §8 (IBAN, NTN/CNIC, ISO country codes)."""

import re

from django.core.exceptions import ValidationError

IBAN_PK_RE = re.compile(r"^PK\d{2}[A-Z]{4}\d{16}$", re.ASCII)
NTN_RE = re.compile(r"^\d{7}(-?\d)?$", re.ASCII)
CNIC_RE = re.compile(r"^\d{5}-?\d{7}-?\d$", re.ASCII)

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW""".split()
)


def _mod97(text: str) -> int:
    """ISO 13616: letters as 10..35, the number modulo 97."""
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def iban_is_valid(value: str) -> bool:
    """Pakistani IBAN: the PK pattern and the ISO 13616 mod-97 check."""
    if not IBAN_PK_RE.fullmatch(value or ""):
        return False
    return _mod97(value[4:] + value[:4]) == 1


def iban_pk(bank_code: str, account_number: int) -> str:
    """The Pakistani IBAN of a 16-digit account number at ``bank_code``, check digits included."""
    bban = f"{bank_code}{account_number:016d}"
    return f"PK{98 - _mod97(bban + 'PK00'):02d}{bban}"


def validate_iban(value: str) -> None:
    if not iban_is_valid(value):
        raise ValidationError(
            "Enter a valid Pakistani IBAN (PK, 2 check digits, 4-letter bank code, "
            "16 digits, passing the mod-97 check).",
            code="invalid_iban",
        )


def validate_ntn(value: str) -> None:
    if not (NTN_RE.fullmatch(value or "") or CNIC_RE.fullmatch(value or "")):
        raise ValidationError(
            "Enter an NTN of 7 digits with an optional check digit (1234567-8), "
            "or a 13-digit CNIC (12345-1234567-1).",
            code="invalid_ntn",
        )


def validate_country(value: str) -> None:
    if value not in ISO_COUNTRIES:
        raise ValidationError(
            f"'{value}' is not an ISO 3166 alpha-2 country code.", code="invalid_country"
        )
