"""Dated exchange rates that keep themselves fresh (design.md, "FX rates").

- ``providers``: where rates come from. Every provider has django-money's
  backend shape (a ``name`` and ``get_rates(**params)``) and returns PKR per
  unit as ``(buy, sell)`` for a date: SBP WACR from a CSV, an Open Exchange
  Rates JSON feed, the ECB XML feed crossed through a stored USD/PKR rate.
- ``services``: writes. ``fx_rates_store`` upserts idempotently and applies
  the move guard; ``fx_refresh`` runs one provider and records an
  ``FxRefreshLog`` row whatever happens; ``fx_import_csv`` loads history.
- ``selectors``: reads. The rate of a day (``fx_rate_for``, ``buying_rate(s)``),
  ``latest_rate`` (with the stale flag) and working-day arithmetic.

Recording money only reads rates here; it never fetches one: a receipt needs the day's
rate in the table (or carries its own bank rate), never a feed that answers.
"""
