"""Posting to the ledger: the one way money moves.

``transaction_post`` posts one balanced transaction, ``transactions_post_many`` a batch
(all or nothing), ``transaction_reverse`` the mirror image of a posted one. Legs are built
with ``debit`` and ``credit``. Inside: ``legs`` (validation, the row and its fingerprint),
``balances`` (the locked accounts), ``portable`` (the ORM path, SQLite), ``postgresql``
(one prepared statement per posting; batches by ``COPY``), ``copy`` (PostgreSQL ``COPY``
helpers, for any app's bulk writes).
"""

from .legs import Leg, Posting, credit, debit, json_text
from .services import (
    PostedMany,
    PreparedPostings,
    postings_prepare,
    transaction_post,
    transaction_reverse,
    transactions_post_many,
)

__all__ = [
    "Leg",
    "PostedMany",
    "Posting",
    "PreparedPostings",
    "credit",
    "debit",
    "json_text",
    "postings_prepare",
    "transaction_post",
    "transaction_reverse",
    "transactions_post_many",
]
