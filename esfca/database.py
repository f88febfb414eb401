"""The database away (restarted, failed over, unreachable): how the code tells it from any
other error, and how it waits for it to come back.

A connection lost mid-request is no fault of the request: the API answers 503
``service_unavailable`` and the pages a 503 page (``esfca.api.exceptions``), and the
request's transaction, never committed, posted nothing; sent again (same reference), it is
recorded once. A background job writes its own failure once the database is back
(``when_back``), so that it never stays "working" for lack of a connection.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATEs of a connection lost or refused: class 08 (connection exception), and the
# server shutting down or starting up (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
# cannot_connect_now). The client's own "server closed the connection unexpectedly" or
# "connection refused" carry no SQLSTATE at all.
_LOST_STATES = ("57P01", "57P02", "57P03")

UNAVAILABLE_MESSAGE = (
    "The database is not answering (it may be restarting); this request was not recorded, "
    "or was recorded whole. Send it again in a few seconds with the same reference: what "
    "was recorded is answered as a replay, never posted twice."
)
RETRY_AFTER_SECONDS = 5


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` is the database connection lost or refused (not a refusal of the
    statement itself: a constraint, a deadlock, a bad value)."""
    driver = exc.__cause__ if isinstance(exc, OperationalError | InterfaceError) else None
    if not hasattr(driver, "sqlstate"):  # not psycopg's (SQLite's: a lock, a missing table)
        return False
    state = driver.sqlstate
    return state is None or state.startswith("08") or state in _LOST_STATES


def connection_reset() -> None:
    """Drop this thread's connection after it was lost: the next query opens a new one
    (Django reuses a broken connection until it is closed)."""
    try:
        connection.close()
    except Exception:  # closing what is already gone must not hide why it went
        logger.debug("closing a lost database connection failed", exc_info=True)


def when_back(work: Callable[[], T], *, seconds: float = 60.0, step: float = 0.5) -> T:
    """``work()``, once the database answers: while its connection is lost or refused the
    connection is reset and ``work`` tried again, every ``step`` seconds (doubling, at most
    5 s) for up to ``seconds``; then the last error is raised. Any other error is raised at
    once. ``work`` must be safe to run twice (its transaction was rolled back)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            if not connection_lost(exc) or time.monotonic() + step > deadline:
                raise
            logger.warning("The database is away (%s); trying again in %.1f s.", exc, step)
            connection_reset()
            time.sleep(step)
            step = min(step * 2, 5.0)
