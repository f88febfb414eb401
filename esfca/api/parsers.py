"""JSON in, with numbers as ``Decimal`` (never float: rules.md §1); JSON out, ASCII-safe."""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number this API accepts.")


class DecimalJSONParser(JSONParser):
    """Like DRF's, but ``1.5`` parses to ``Decimal("1.5")`` and NaN/Infinity are refused.

    Anything the decoder chokes on (bad UTF-8, an unknown charset, absurd nesting, an
    integer of thousands of digits) is a ``ParseError``, i.e. a 400, never a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, LookupError, RecursionError, MemoryError) as exc:
            raise ParseError(f"JSON parse error - {exc}"[:300]) from None


class AsciiJSONRenderer(JSONRenderer):
    """Escapes non-ASCII as ``\\uXXXX``: valid JSON for any string, even a lone surrogate."""

    ensure_ascii = True
