"""The bank-facing HTTP API, version 1 (``shared/api-contract.md``): thin DRF views over the
services and selectors of ``exporters``, ``ledger`` and ``esfca``."""
