"""Dated exchange rates: every read and write of the rate table (design.md, "FX rates").

- ``arith``: the figures of a rate, defined once: ``RATE_PLACES`` (6) and its
  ``RATE_QUANTUM``, ``MAX_RATE``, ``HOME_CURRENCY``; ``rate_error`` says why a
  value cannot be a rate; exact rate arithmetic.
- ``providers``: where rates come from. Every provider has django-money's
  backend shape (a ``name`` and ``get_rates(**params)``) and returns PKR per
  unit as ``(buy, sell)`` for a date: SBP WACR from a CSV, an Open Exchange
  Rates JSON feed, the ECB XML feed crossed through a stored USD/PKR rate.
- ``services``: writes. ``fx_rate_store`` stores one rate, for the API, the
  admin, CSV imports and the feeds alike (validation, duplicates, move guard);
  ``fx_rates_store`` stores a batch atomically through it; ``fx_refresh`` runs
  one provider and records an ``FxRefreshLog`` row whatever happens;
  ``fx_import_csv`` loads history; ``fx_held_decide`` approves or rejects held rates.
- ``selectors``: reads. The rate of a day (``fx_rate_for``, ``buying_rate(s)``),
  ``latest_rate`` (with the stale flag) and working-day arithmetic.
- ``errors``: ``DuplicateRate`` and why a feed stored nothing.

Recording money only reads rates here; it never fetches one: a receipt needs the day's
rate in the table (or carries its own bank rate), never a feed that answers.
"""
