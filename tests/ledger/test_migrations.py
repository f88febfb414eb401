"""Applied migrations never change: the ledger's SQL migrations run, byte for byte, the SQL
they ran when they were applied (a database migrated then and one migrated now are alike)."""

import hashlib
import importlib

import pytest

# SHA-256 of the SQL text each migration runs, as it was when the migration was written.
FROZEN = [
    (
        "0002_pg_invariants",
        "SQL",
        "7e30ba6b4eb8707cfe2609f0fa477ec73526ce570a170071c721630e2983f0ab",
    ),
    (
        "0004_zero_sum_per_transaction",
        "SQL",
        "b482379f027e8ded855cb5d80c39dd2c290058e68a692a5ac40a3c19e4ce8fc4",
    ),
    (  # what undoing 0004 restores: 0002's SQL
        "0004_zero_sum_per_transaction",
        "PREVIOUS",
        "7e30ba6b4eb8707cfe2609f0fa477ec73526ce570a170071c721630e2983f0ab",
    ),
]


@pytest.mark.parametrize(("migration", "name", "digest"), FROZEN)
def test_a_sql_migration_runs_the_sql_it_always_ran(migration, name, digest):
    sql = getattr(importlib.import_module(f"ledger.migrations.{migration}"), name)

    assert hashlib.sha256(sql.encode()).hexdigest() == digest
