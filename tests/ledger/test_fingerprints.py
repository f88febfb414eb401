"""Request fingerprints are written out directly; they must stay the SHA-256 of exactly the
text json.dumps(..., sort_keys=True) gives, or stored requests would stop replaying."""

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from esfca.services.movements import plain, request_fingerprint
from ledger.models import Transaction
from ledger.posting import Leg
from ledger.posting.legs import CENT
from ledger.posting.legs import fingerprint as posting_fingerprint

texts = st.text(max_size=30)  # any unicode, quotes, backslashes and control characters
amounts = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.none(), texts, amounts, st.dates(), st.just("")),
        max_size=12,
    )
)
def test_the_request_fingerprint_is_the_sha256_of_json_dumps(fields):
    body = {name: plain(value) for name, value in fields.items()}
    expected = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    assert request_fingerprint(**fields) == expected


@dataclass
class _Account:
    pk: int
    currency: str


@dataclass
class _Reversed:
    pk: int


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(list(Transaction.Kind)),
    value_date=st.dates(min_value=date(2000, 1, 1)),
    legs=st.lists(
        st.tuples(st.integers(1, 10**12), st.sampled_from(["USD", "PKR", "EUR"]), amounts),
        min_size=1,
        max_size=8,
    ),
    memo=texts,
    fx_rate=st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=6)),
    reverses=st.one_of(st.none(), st.integers(1, 10**12)),
)
def test_the_posting_fingerprint_is_the_sha256_of_json_dumps(
    kind, value_date, legs, memo, fx_rate, reverses
):
    built = [
        Leg(account=_Account(pk, cur), debit=amount, credit=Decimal("0.00"))
        for pk, cur, amount in legs
    ]
    body = {
        "kind": kind,
        "value_date": value_date.isoformat(),
        "memo": memo,
        "fx_rate": None if fx_rate is None else str(fx_rate),
        "reverses": reverses,
        "legs": sorted(
            [leg.account.pk, str(leg.debit.quantize(CENT)), str(leg.credit.quantize(CENT)),
             leg.currency]
            for leg in built
        ),
    }  # fmt: skip
    expected = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    reversed_txn = _Reversed(reverses) if reverses else None
    assert posting_fingerprint(kind, value_date, built, memo, fx_rate, reversed_txn) == expected
