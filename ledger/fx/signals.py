"""What the rate table tells the layers above it: a rate written, a held rate decided.

Both are sent inside the write's transaction, so what a receiver writes (the esfca app's
audit rows, ``esfca/rate_audit.py``: the ledger may not import esfca) commits or rolls back
with the rate. A receiver that fails makes the write fail.
"""

from django.dispatch import Signal

# A rate stored or replaced: ``rate``, ``by`` (a ``RateWriter``: how, and the person if any),
# ``outcome`` ("created", "held" or "updated") and ``message`` (why it is held, if it is).
rate_written = Signal()

# A held rate approved or rejected: ``rate`` (with its new status), ``by``, ``approved``.
rate_decided = Signal()
