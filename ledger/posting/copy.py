"""Rows written by PostgreSQL's ``COPY … FROM STDIN``: the one place that formats them, takes
their ids and sends them, for the ledger's batches and for any app's bulk writes.

A row written by ``COPY`` meets the same constraints and triggers as one written by
``INSERT`` (the deferred zero-sum trigger included); what it skips is the client-side
quoting of every value and a round trip per statement. Ids are taken from the table's own
sequence beforehand, so related rows can be formatted before anything is written."""

import io
from collections.abc import Iterable, Sequence

from django.db import connection
from psycopg.copy import Copy, FileWriter


def copy_data(rows: Iterable[Sequence]) -> bytes:
    """Rows in PostgreSQL's ``COPY … FROM STDIN`` text format, formatted by psycopg with the
    connection's adapters (as ``cursor.copy().write_row`` would send them)."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor, Copy(cursor.cursor, writer=FileWriter(buffer)) as copy:
        for row in rows:
            copy.write_row(row)
    return buffer.getvalue()


def next_ids(model, count: int) -> list[int]:
    """``count`` new ids from ``model``'s table sequence, for rows written by ``COPY``."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def copy_sql(model, fields: Sequence[str]) -> str:
    """``COPY table (columns) FROM STDIN`` for ``model``; ``fields`` are its field names or
    attnames (``"id"``, ``"transaction_id"``) in the order of the rows' values."""
    meta, quote = model._meta, connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in fields)
    return f"COPY {quote(meta.db_table)} ({names}) FROM STDIN"


def copy_into(model, fields: Sequence[str], data: bytes | Iterable[Sequence]) -> None:
    """Write rows into ``model``'s table by ``COPY``: ``data`` formatted by ``copy_data``
    (sent as it is), or the rows themselves (formatted as they are sent)."""
    with connection.cursor() as cursor, cursor.copy(copy_sql(model, fields)) as copy:
        if isinstance(data, bytes):
            copy.write(data)
            return
        for row in data:
            copy.write_row(row)
