"""A local HTTP server for the FX tests: real payloads and broken variants, never the internet."""

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
OXR_BYTES = (DATA / "oxr-latest.json").read_bytes()
ECB_BYTES = (DATA / "ecb-eurofxref-daily.xml").read_bytes()


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0
    trickle: float = 0.0  # seconds between one byte of the answer and the next


def oxr_variant(**changes) -> bytes:
    """The real OXR payload with some rates replaced (``None`` removes one), as JSON text.

    Numbers are spliced in as text so that no float ever touches them.
    """
    text = OXR_BYTES.decode()
    for code, value in changes.items():
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f'"{code}"'))
        if value is None:
            text = text.replace(line + "\n", "")
        else:
            comma = "," if line.rstrip().endswith(",") else ""
            text = text.replace(line, f'    "{code}": {value}{comma}')
    json.loads(text)  # still valid JSON (trailing commas would not be)
    return text.encode()


def ecb_variant(old: str, new: str) -> bytes:
    assert old.encode() in ECB_BYTES
    return ECB_BYTES.replace(old.encode(), new.encode())


def oxr_dated(day: date) -> bytes:
    """The real OXR payload published on ``day`` (its timestamp: 00:00:01 UTC that day)."""
    stamp = int(datetime(day.year, day.month, day.day, 0, 0, 1, tzinfo=UTC).timestamp())
    old = b'"timestamp": 1762250400'
    assert old in OXR_BYTES
    return OXR_BYTES.replace(old, f'"timestamp": {stamp}'.encode())


def ecb_dated(day: date) -> bytes:
    """The real ECB payload published on ``day``."""
    return ecb_variant("time='2026-10-02'", f"time='{day.isoformat()}'")


class FxServer:
    """``with FxServer() as s: s.url("/oxr.json")`` serves the real payloads on 127.0.0.1."""

    def __init__(self):
        self.routes: dict[str, Route] = {
            "/oxr.json": Route(OXR_BYTES),
            "/ecb.xml": Route(ECB_BYTES, content_type="application/xml"),
        }
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                route = server.routes.get(path, Route(b"not found", status=404))
                if route.delay:
                    time.sleep(route.delay)
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if not route.trickle:
                        self.wfile.write(route.body)
                        return
                    for byte in route.body:  # a server that keeps the line busy, barely
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(route.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
