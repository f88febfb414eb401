"""An import builds its requests with ``ReceiptRequest.from_row`` and fingerprints them
with a precomputed shape; both must equal the plain constructor and ``request_fingerprint``,
or a stored receipt would stop replaying when imported again."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esfca.services import ReceiptRequest
from esfca.services.movements import request_fingerprint

texts = st.text(max_size=20)
optional = {
    "retain": st.one_of(st.just("max"), st.just(""), st.none(), st.decimals(0, 10**6, places=2)),
    "conversion_rate": st.one_of(st.none(), st.decimals(0, 10**4, places=6)),
    "purpose_code": st.one_of(st.none(), texts),
    "bank": texts,
    "converted_on": st.one_of(st.none(), st.dates()),
}
rows = st.fixed_dictionaries(
    {
        "reference": texts,
        "value_date": st.dates(),
        "amount": st.decimals(allow_nan=False, allow_infinity=False, places=2),
        "currency": texts,
        "client_name": texts,
        "client_country": texts,
    },
    optional=optional,
)


@settings(max_examples=300, deadline=None)
@given(row=rows)
def test_from_row_is_the_constructor_and_its_fingerprint_the_plain_one(row):
    built = ReceiptRequest.from_row(row)
    assert built == ReceiptRequest(**row)
    constructed = ReceiptRequest(**row)
    fields = {name: getattr(constructed, name) for name in row | optional}
    assert built.fingerprint == request_fingerprint(**fields)


def test_from_row_refuses_unknown_and_missing_fields_like_the_constructor():
    row = {"reference": "R1", "value_date": None, "amount": Decimal(1), "currency": "USD"}
    with pytest.raises(TypeError, match="missing: \\['client_country', 'client_name'\\]"):
        ReceiptRequest.from_row(row)
    with pytest.raises(TypeError, match="unknown: \\['colour'\\]"):
        ReceiptRequest.from_row(row | {"client_name": "A", "client_country": "US", "colour": 1})
