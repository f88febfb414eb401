import pytest
from django.core.exceptions import ValidationError

from exporters.validators import iban_is_valid, validate_country, validate_ntn


@pytest.mark.parametrize(
    "iban,valid",
    [
        ("PK36SCBL0000001123456702", True),
        ("PK27MPBL1181017140122674", False),  # a published display example failing mod-97
        ("PK36SCBL000000112345670", False),  # too short
        ("pk36scbl0000001123456702", False),  # lower case
        ("GB82WEST12345698765432", False),  # not Pakistani
        ("", False),
    ],
)
def test_iban(iban, valid):
    assert iban_is_valid(iban) is valid


@pytest.mark.parametrize(
    "ntn", ["4174941-3", "41749413", "4174941", "35202-1234567-1", "3520212345671"]
)
def test_ntn_and_cnic_formats(ntn):
    validate_ntn(ntn)


@pytest.mark.parametrize("ntn", ["417494", "4174941-33", "35202-123456-1", "ABCDEFG", ""])
def test_bad_ntn(ntn):
    with pytest.raises(ValidationError):
        validate_ntn(ntn)


def test_country():
    validate_country("AE")
    with pytest.raises(ValidationError):
        validate_country("XX")


def test_only_ascii_digits_count():
    assert not iban_is_valid("PK36SCBL" + "\u0660" * 16)
    with pytest.raises(ValidationError):
        validate_ntn("\u0661\u0662\u0663\u0664\u0665\u0666\u0667")


def test_iban_pk_builds_the_check_digits():
    from exporters.validators import iban_pk

    assert iban_pk("SCBL", 1123456702) == "PK36SCBL0000001123456702"
    assert iban_is_valid(iban_pk("MEZN", 42))
