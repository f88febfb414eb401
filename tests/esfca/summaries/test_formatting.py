"""How the summaries write months (no database)."""

from datetime import date

import pytest

from esfca.summaries.formatting import month_parse


def test_month_parse():
    assert month_parse("2025-11") == date(2025, 11, 1)
    for bad in ("2025-13", "2025-1", "25-11", "2025-11-01", "abc", ""):
        with pytest.raises(Exception) as caught:
            month_parse(bad)
        assert getattr(caught.value, "code", None) == "validation_error"
