"""Where rates come from. Each provider returns PKR per one unit of a currency, ``(buy, sell)``.

The interface follows django-money's ``BaseExchangeBackend``: a ``name`` and
``get_rates(**params)``. Because our table is dated, ``fetch()`` returns
``RateSet`` objects (a date and its rates); ``get_rates`` is the one-day view.
A provider validates the whole payload before returning anything: any problem
raises ``FxFeedInvalid`` (permanent) or ``FxFeedUnavailable`` (transient, to
retry), so a bad fetch stores nothing.
"""

import contextlib
import csv
import http.client
import io
import json
import re
import socket
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import HTTPHandler, HTTPSHandler, Request, build_opener

from django.conf import settings
from django.utils import timezone

from ledger.models import FxRate

from .arith import HOME_CURRENCY, RATE_PLACES, rate_error, round_half_up
from .errors import FxFeedInvalid, FxFeedUnavailable
from .selectors import fx_rate_better_than

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PLAIN_DECIMAL = re.compile(r"^\d{1,12}(\.\d{1,6})?$")

Pair = tuple[Decimal, Decimal]


@dataclass(frozen=True)
class RateSet:
    """The rates of one day from one source: ``{currency: (buy, sell)}`` in PKR per unit."""

    date: date
    rates: dict[str, Pair] = field(default_factory=dict)


class FxProvider:
    """Base class: subclasses set ``name`` and ``source`` and implement ``fetch``."""

    name = ""
    source = ""

    def fetch(self, **params) -> list[RateSet]:
        raise NotImplementedError

    def get_rates(self, **params) -> dict[str, Pair]:
        """django-money's shape: the rates of one day (``date=`` or the latest fetched)."""
        on = params.pop("date", None)
        sets = self.fetch(**params)
        if on is None:
            return max(sets, key=lambda s: s.date).rates if sets else {}
        return next((s.rates for s in sets if s.date == on), {})


# ---------------------------------------------------------------------------------------------
# HTTP


def redact(url: str) -> str:
    """The URL without its query string: OXR puts the app id there, logs must not."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _Deadline:
    """Ends a feed's answer when its time is up, however the server sends it.

    A socket timeout bounds each read, not the answer: a server sending one byte every few
    seconds never trips it. When ``seconds`` have passed since the request started, every
    connection the request opened is shut down, so the read in progress returns at once.
    """

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # The plain socket's shutdown, also for TLS: it wakes a blocked read without touching
        # the TLS state another thread is using.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """A urllib handler whose connections are shut down when their deadline passes."""

    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class, req, **kwargs):
        deadline = self.deadline

        class WatchedConnection(http_class):
            def connect(self):
                super().connect()
                deadline.watch(self.sock)

        return super().do_open(WatchedConnection, req, **kwargs)


class _WatchedHTTPHandler(_Watched, HTTPHandler):
    pass


class _WatchedHTTPSHandler(_Watched, HTTPSHandler):
    pass


def http_get(url: str, *, timeout: float, accept: str, max_bytes: int | None = None) -> bytes:
    """GET ``url`` (http/https only); errors become FxFeed*.

    ``timeout`` bounds the whole answer (status line, headers and body), not each read: a
    server that trickles its answer fails like one that does not answer. An answer over
    ``max_bytes`` (``FX_FEED_MAX_BYTES``) is refused, by its Content-Length before reading.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise FxFeedInvalid(f"Feed URL must be http(s), got {redact(url)!r}.")
    limit = settings.FX_FEED_MAX_BYTES if max_bytes is None else max_bytes
    request = Request(url, headers={"Accept": accept, "User-Agent": "esfca-manager"})
    where = redact(url)
    timed_out = f"Timed out after {timeout}s waiting for the whole answer of {where}."
    with _Deadline(timeout) as deadline:
        opener = build_opener(_WatchedHTTPHandler(deadline), _WatchedHTTPSHandler(deadline))
        try:
            with opener.open(request, timeout=timeout) as response:  # scheme checked above
                _refuse_declared_size(response, limit, where)
                body = response.read(limit + 1)
        except HTTPError as exc:
            exc.close()
            if deadline.expired:
                raise FxFeedUnavailable(timed_out) from exc
            if exc.code >= 500 or exc.code == 429:
                raise FxFeedUnavailable(f"HTTP {exc.code} from {where}.") from exc
            raise FxFeedInvalid(f"HTTP {exc.code} from {where}.") from exc
        except (URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if deadline.expired or isinstance(reason, TimeoutError):
                raise FxFeedUnavailable(timed_out) from exc
            raise FxFeedUnavailable(f"Could not read {where}: {reason}.") from exc
    if deadline.expired:  # a body without a length ends when the connection is shut down
        raise FxFeedUnavailable(timed_out)
    if len(body) > limit:
        raise FxFeedInvalid(f"Payload from {where} is larger than {limit} bytes.")
    return body


def _refuse_declared_size(response, limit: int, where: str) -> None:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FxFeedInvalid(f"Payload from {where} is larger than {limit} bytes ({declared}).")


def _positive(value, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        raise FxFeedInvalid(f"{what} is not a number: {value!r}.")
    if value <= 0:
        raise FxFeedInvalid(f"{what} must be positive, got {value}.")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a rate")


# ---------------------------------------------------------------------------------------------
# Open Exchange Rates format (FX_FEED_URL)


class OxrProvider(FxProvider):
    """An Open-Exchange-Rates ``latest.json``: ``rates`` per unit of ``base`` (USD).

    PKR per unit of X = rates.PKR / rates.X, exact, rounded half up to 6 places.
    ``spread_pct`` (setting ``FX_FEED_SPREAD_PCT``) puts half the spread on each
    side of that mid: buy = mid × (1 − s/200), sell = mid × (1 + s/200); 0 gives
    buy = sell = mid. The date is the UTC day of ``timestamp``. Every currency of
    ``FX_CURRENCIES`` and PKR must be present and positive.
    """

    name = "oxr"
    source = FxRate.Source.OXR

    def __init__(self, *, url=None, timeout=None, currencies=None, spread_pct=None):
        self.url = settings.FX_FEED_URL if url is None else url
        self.timeout = settings.FX_FEED_TIMEOUT if timeout is None else timeout
        self.currencies = tuple(settings.FX_CURRENCIES if currencies is None else currencies)
        spread = settings.FX_FEED_SPREAD_PCT if spread_pct is None else spread_pct
        self.spread_pct = Decimal(str(spread))

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def fetch(self, **params) -> list[RateSet]:
        if not self.url:
            raise FxFeedInvalid("FX_FEED_URL is not set.")
        body = http_get(self.url, timeout=self.timeout, accept="application/json")
        return [self.parse(body)]

    def parse(self, body: bytes) -> RateSet:
        try:
            doc = json.loads(
                body.decode("utf-8"),
                parse_float=Decimal,
                parse_int=Decimal,
                parse_constant=_refuse_constant,
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise FxFeedInvalid(f"Malformed JSON from the OXR feed: {exc}.") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("rates"), dict):
            raise FxFeedInvalid("OXR payload has no 'rates' object.")
        base = doc.get("base")
        if not isinstance(base, str) or not _CURRENCY.match(base):
            raise FxFeedInvalid(f"OXR payload has no valid 'base': {base!r}.")
        stamp = doc.get("timestamp")
        if not isinstance(stamp, Decimal) or stamp != stamp.to_integral():
            raise FxFeedInvalid(f"OXR payload has no integer 'timestamp': {stamp!r}.")
        try:
            day = datetime.fromtimestamp(int(stamp), tz=UTC).date()
        except (OverflowError, OSError, ValueError) as exc:
            raise FxFeedInvalid(f"OXR 'timestamp' is out of range: {stamp}.") from exc
        if day > timezone.now().date():
            raise FxFeedInvalid(f"OXR 'timestamp' is in the future: {day.isoformat()}.")

        raw = doc["rates"]

        def units_per_base(code: str) -> Decimal:
            if code not in raw:
                if code == base:
                    return Decimal(1)
                raise FxFeedInvalid(f"OXR payload is missing {code}.")
            return _positive(raw[code], f"OXR rate of {code}")

        pkr = Fraction(units_per_base(HOME_CURRENCY))
        half_spread = Fraction(self.spread_pct) / 200
        rates = {}
        for code in self.currencies:
            mid = pkr / Fraction(units_per_base(code))
            rates[code] = (
                round_half_up(mid * (1 - half_spread), RATE_PLACES),
                round_half_up(mid * (1 + half_spread), RATE_PLACES),
            )
        return RateSet(date=day, rates=rates)


# ---------------------------------------------------------------------------------------------
# ECB daily reference rates (ECB_FEED_URL), crossed through USD/PKR


ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


class EcbProvider(FxProvider):
    """The ECB ``eurofxref-daily.xml``: 1 EUR = ``rate`` units of X, no PKR in it.

    PKR per unit of X = (PKR per USD) × (USD per EUR) / (X per EUR), where PKR
    per USD is the best active USD rate of the same date from a better source
    (SBP-WACR, manual or the OXR feed); buy crosses through its buy, sell
    through its sell. Without that USD rate nothing is stored and the failure
    is transient (the better source may arrive later). Stores EUR and every
    currency of ``FX_CURRENCIES`` the ECB publishes (never USD itself).
    """

    name = "ecb"
    source = FxRate.Source.ECB

    def __init__(self, *, url=None, timeout=None, currencies=None):
        self.url = settings.ECB_FEED_URL if url is None else url
        self.timeout = settings.FX_FEED_TIMEOUT if timeout is None else timeout
        self.currencies = tuple(settings.FX_CURRENCIES if currencies is None else currencies)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def fetch(self, **params) -> list[RateSet]:
        if not self.url:
            raise FxFeedInvalid("ECB_FEED_URL is not set.")
        body = http_get(self.url, timeout=self.timeout, accept="application/xml, text/xml")
        day, per_eur = self.parse(body)
        return [self.cross(day, per_eur)]

    def parse(self, body: bytes) -> tuple[date, dict[str, Decimal]]:
        """The first dated ``Cube`` (the latest day): its date and units of X per EUR."""
        head = body[:4096].lower()
        if b"<!doctype" in head or b"<!entity" in body.lower():
            # The feed never has a DTD; refusing one rules out entity expansion and XXE.
            raise FxFeedInvalid("ECB payload carries a DTD or entity declaration.")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise FxFeedInvalid(f"Malformed XML from the ECB feed: {exc}.") from exc
        day_cube = root.find(f".//{ECB_NS}Cube[@time]")
        if day_cube is None:
            raise FxFeedInvalid("ECB payload has no dated Cube.")
        try:
            day = date.fromisoformat(day_cube.get("time", ""))
        except ValueError as exc:
            raise FxFeedInvalid(f"ECB Cube has a bad time: {day_cube.get('time')!r}.") from exc
        per_eur: dict[str, Decimal] = {}
        for cube in day_cube.findall(f"{ECB_NS}Cube"):
            code, text = cube.get("currency", ""), cube.get("rate", "")
            if not _CURRENCY.match(code):
                raise FxFeedInvalid(f"ECB payload has a bad currency code: {code!r}.")
            if code in per_eur:
                raise FxFeedInvalid(f"ECB payload lists {code} twice.")
            if not _PLAIN_DECIMAL.match(text):
                raise FxFeedInvalid(f"ECB rate of {code} is not a plain decimal: {text!r}.")
            per_eur[code] = _positive(Decimal(text), f"ECB rate of {code}")
        if "USD" not in per_eur:
            raise FxFeedInvalid("ECB payload is missing USD, needed to cross to PKR.")
        return day, per_eur

    def cross(self, day: date, per_eur: dict[str, Decimal]) -> RateSet:
        usd = fx_rate_better_than(source=self.source, currency="USD", on=day)
        if usd is None:
            raise FxFeedUnavailable(
                f"No active USD/PKR rate for {day.isoformat()} from a source better than ECB: "
                "nothing crossed."
            )
        usd_per_eur = Fraction(per_eur["USD"])
        wanted = ["EUR", *(c for c in self.currencies if c in per_eur and c not in ("USD", "EUR"))]
        rates = {}
        for code in wanted:
            eur_to_x = Fraction(1) if code == "EUR" else Fraction(per_eur[code])
            factor = usd_per_eur / eur_to_x
            rates[code] = (
                round_half_up(Fraction(usd.buy) * factor, RATE_PLACES),
                round_half_up(Fraction(usd.sell) * factor, RATE_PLACES),
            )
        return RateSet(date=day, rates=rates)


# ---------------------------------------------------------------------------------------------
# SBP weighted average customer rates: entered by hand or uploaded as CSV


@dataclass(frozen=True)
class CsvRow:
    line: int
    date: date
    currency: str
    buy: Decimal
    sell: Decimal


@dataclass
class CsvParse:
    rows: list[CsvRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


CSV_COLUMNS = ("date", "currency", "buy", "sell")


def parse_rates_csv(text: str, *, source: str, currencies=None, today=None) -> CsvParse:
    """Parse ``date,currency,buy,sell`` rows strictly; each bad row gets its own message.

    Dates are ISO (YYYY-MM-DD) and not in the future; currencies are among
    ``FX_CURRENCIES``; rates are plain positive decimals with at most 4 places
    for SBP-WACR (SBP publishes 4) and 6 otherwise; buy ≤ sell; a currency
    appears once per date. Extra columns are ignored.
    """
    currencies = set(settings.FX_CURRENCIES if currencies is None else currencies)
    today = today or timezone.localdate()
    max_places = 4 if source == FxRate.Source.SBP_WACR else RATE_PLACES
    result = CsvParse()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        result.errors.append((1, f"Header must have the columns {', '.join(CSV_COLUMNS)}."))
        return result
    reader.fieldnames = header
    seen: set[tuple[date, str]] = set()
    for record in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue  # blank line
        values = {c: (record.get(c) or "").strip() for c in CSV_COLUMNS}
        try:
            row = _csv_row(line, values, currencies, max_places, today)
        except ValueError as exc:
            result.errors.append((line, str(exc)))
            continue
        if (row.date, row.currency) in seen:
            result.errors.append((line, f"{row.currency} {row.date} appears twice in the file."))
            continue
        seen.add((row.date, row.currency))
        result.rows.append(row)
    return result


def _csv_row(line, values, currencies, max_places, today) -> CsvRow:
    try:
        day = date.fromisoformat(values["date"])
    except ValueError:
        raise ValueError(f"date {values['date']!r} is not YYYY-MM-DD.") from None
    if len(values["date"]) != 10:
        raise ValueError(f"date {values['date']!r} is not YYYY-MM-DD.")
    if day > today:
        raise ValueError(f"date {day.isoformat()} is in the future.")
    code = values["currency"].upper()
    if code not in currencies:
        raise ValueError(f"currency {values['currency']!r} is not one of {sorted(currencies)}.")
    pair = []
    for side in ("buy", "sell"):
        text = values[side]
        if not _PLAIN_DECIMAL.match(text):
            raise ValueError(f"{side} {text!r} is not a plain decimal number.")
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already guarantees it
            raise ValueError(f"{side} {text!r} is not a number.") from None
        if -value.as_tuple().exponent > max_places:
            raise ValueError(f"{side} {text} has more than {max_places} decimal places.")
        if value <= 0:
            raise ValueError(f"{side} must be positive, got {text}.")
        if problem := rate_error(value):
            raise ValueError(f"{side} {text}: {problem}")
        pair.append(value)
    buy, sell = pair
    if buy > sell:
        raise ValueError(f"buy {buy} is above sell {sell}.")
    return CsvRow(line=line, date=day, currency=code, buy=buy, sell=sell)


class CsvRatesProvider(FxProvider):
    """SBP WACR (or manual) rates from an uploaded CSV; any bad row makes the whole fetch fail.

    The import service uses ``parse_rates_csv`` directly for a per-row report.
    """

    name = "sbp-csv"
    source = FxRate.Source.SBP_WACR

    def __init__(self, text: str, *, source: str = FxRate.Source.SBP_WACR):
        self.text = text
        self.source = source

    def fetch(self, **params) -> list[RateSet]:
        parsed = parse_rates_csv(self.text, source=self.source)
        if parsed.errors:
            line, message = parsed.errors[0]
            raise FxFeedInvalid(f"CSV line {line}: {message}")
        by_day: dict[date, dict[str, Pair]] = {}
        for row in parsed.rows:
            by_day.setdefault(row.date, {})[row.currency] = (row.buy, row.sell)
        return [RateSet(date=d, rates=r) for d, r in sorted(by_day.items())]


# ---------------------------------------------------------------------------------------------

PROVIDERS: dict[str, type[FxProvider]] = {"oxr": OxrProvider, "ecb": EcbProvider}


def provider_named(name: str) -> FxProvider:
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise FxFeedInvalid(f"Unknown FX provider {name!r}; known: {sorted(PROVIDERS)}.") from None


def configured_providers() -> list[str]:
    """Names from ``FX_PROVIDERS`` whose URL is set, in order (OXR before ECB)."""
    return [n for n in settings.FX_PROVIDERS if n in PROVIDERS and provider_named(n).configured]
