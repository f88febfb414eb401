"""The client's address that sign-in throttling counts (esfca/lockout.py: client_address),
with and without reverse proxies in front."""

import pytest
from django.test import RequestFactory

from esfca.lockout import client_address


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "203.0.113.5", "192.0.2.10"),  # Django faces clients: the header is theirs
        (1, "", "192.0.2.10"),  # no header: the peer
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the client's own entry is ignored
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.7", "203.0.113.5"),  # two proxies
        (2, "203.0.113.5", "203.0.113.5"),  # fewer entries than proxies: the left-most
        (1, "2001:db8::5", "2001:db8::5"),
        (1, "not-an-address", "192.0.2.10"),
        (1, "6.6.6.6, 203.0.113.5:443", "192.0.2.10"),  # not an address as written
        (1, " , ", "192.0.2.10"),
    ],
)
def test_client_address(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
