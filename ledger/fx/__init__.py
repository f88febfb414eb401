"""Dated exchange rates: every read and write of the rate table (design.md, "FX rates").

- ``arith``: the figures of a rate, defined once: ``RATE_PLACES`` (6) and its
  ``RATE_QUANTUM``, ``MAX_RATE``, ``HOME_CURRENCY``; ``rate_error`` says why a
  value cannot be a rate; exact rate arithmetic.
- ``providers``: where rates come from. Every provider has django-money's
  backend shape (a ``name`` and ``get_rates(**params)``) and returns PKR per
  unit as ``(buy, sell)`` for a date: SBP WACR from a CSV, an Open Exchange
  Rates JSON feed, the ECB XML feed crossed through a stored USD/PKR rate. A feed's
  timeout bounds its whole answer, and its size is capped.
- ``services``: writes (rules.md §10). ``fx_rate_store`` stores one rate, for the API,
  the admin, CSV imports and the feeds alike (validation, dates, duplicates, the move guard
  against the latest active rate of any source), told who writes it (``RateWriter``);
  ``fx_rates_store`` stores a batch atomically through it; ``fx_refresh`` runs one
  provider (refusing payloads dated in the future or too old) and records an
  ``FxRefreshLog`` row whatever happens; ``fx_import_csv`` loads history;
  ``fx_rate_decide`` and ``fx_held_decide`` approve or reject held rates.
- ``signals``: each rate written or decided, sent inside its transaction (the esfca app
  audits them).
- ``selectors``: reads. From *active* rates only: the rate of a day (``fx_rate_for``,
  ``buying_rate(s)``), ``latest_rate`` (with the stale flag), the rate the guard compares
  with (``fx_rate_guarding``); every status: the API's list (``fx_rates``).
- ``errors``: ``DuplicateRate``, why a feed stored nothing, why a decision is refused.

Recording money only reads rates here; it never fetches one: a receipt needs the day's
rate in the table (or carries its own bank rate), never a feed that answers.
"""
