"""Real faults for the resilience tests (issue 15): the test command's own PostgreSQL
cluster stopped, started and restarted in place with its ``pg_ctl``, and a gunicorn serving
the app on pytest-django's test database.

The cluster is found from the server itself: its data directory (``SHOW data_directory``)
and the binary it runs (``postmaster.opts``, which ``pg_ctl restart`` reuses), and is driven
as the data directory's owner (``runuser`` when the tests run as root, as
``scripts/test.sh`` does)."""

import os
import pwd
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection, connections

ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    """The PostgreSQL cluster the tests run on, driven with its own ``pg_ctl``."""

    def __init__(self):
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            self.data = Path(cursor.fetchone()[0])
        postgres, *options = shlex.split((self.data / "postmaster.opts").read_text())
        self.pg_ctl = str(Path(postgres).with_name("pg_ctl"))
        at = options.index("-D")  # what `pg_ctl start` must be told again (restart reuses it)
        self.options = shlex.join(options[:at] + options[at + 2 :])
        self.log = self.data.parent / "restarts.log"  # the owner may write there
        owner = self.data.stat().st_uid
        self.as_owner = (
            ["runuser", "-u", pwd.getpwuid(owner).pw_name, "--"]
            if os.getuid() == 0 and owner != 0
            else []
        )

    def ctl(self, action: str) -> float:
        """``pg_ctl stop|start|restart`` (fast: sessions are cut at once, as in a crash
        of the network or a failover), waiting for it; the seconds it took."""
        started = time.monotonic()
        done = subprocess.run(
            [*self.as_owner, self.pg_ctl, "-D", str(self.data), "-l", str(self.log),
             "-m", "fast", "-w", "-t", "60", *(["-o", self.options] if action == "start" else []),
             action],
            capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, (done.stdout, done.stderr, self.log.read_text())
        if action != "start":
            connections.close_all()  # this process's connections died with the server
        return time.monotonic() - started

    @contextmanager
    def stopped(self):
        self.ctl("stop")
        try:
            yield
        finally:
            self.ctl("start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """pytest-django's test database, for the servers started by a test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def gunicorn(log: Path, workers: int = 2, threads: int = 4):
    """The app behind gunicorn (gthread, persistent database connections as configured)
    on a free port, in a process group of its own; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1"}
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--threads", str(threads), "--timeout", "60",
             "--graceful-timeout", "5"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
