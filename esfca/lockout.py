"""Throttling of sign-ins (api-contract.md 1.1, "Errors and limits").

django-axes counts failed sign-ins in the database (``AXES_*`` settings): 10 failures for one
username, or from one client address, lock that username or address out for 15 minutes; the
right password is refused too while it lasts, and every attempt made meanwhile starts the
15 minutes again. Its authentication backend refuses, its middleware turns a web lockout into
``lockout_response``; the API's token view and the second factor ask the same counters through
the functions below, so every door shares one count.
"""

import ipaddress

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from .api.exceptions import API_PREFIX, error_body


def client_address(request) -> str | None:
    """The client's address (AXES_CLIENT_IP_CALLABLE). Behind ``TRUSTED_PROXIES`` reverse
    proxies (DJANGO_TRUSTED_PROXIES), each of which appends the address it saw to
    X-Forwarded-For, the client is the entry that many places from the right; entries further
    left are whatever the client sent and are never trusted. Without proxies, or when the
    header is missing or not an address, REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-proxies] if len(hops) >= proxies else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def retry_after() -> int:
    """Seconds until a locked-out username or address may try again (the whole cool-off:
    the attempt that is refused now starts it again)."""
    return int(get_cool_off().total_seconds())


def lockout_message() -> str:
    minutes = retry_after() // 60
    return (
        "Too many failed sign-ins for this username or from this address: "
        f"try again in {minutes} minutes."
    )


def is_locked_out(request) -> bool:
    """Whether the failure just recorded for ``request`` (by axes' backend or by
    ``login_failed``) locked its username or address out."""
    return bool(getattr(request, "axes_locked_out", False))


def login_allowed(request, username: str) -> bool:
    """Whether ``username`` may try to sign in from the request's address right now."""
    return AxesProxyHandler.is_allowed(request, {"username": username})


def login_failed(request, username: str) -> None:
    """Count a failed step of a sign-in that Django's ``authenticate`` did not see (a wrong
    second factor) like a wrong password: the same signal, so axes and any other listener
    record it."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After, as the contract's error body under the
    API's prefix and as a page elsewhere."""
    if request.path.startswith(API_PREFIX):
        response = JsonResponse(error_body("throttled", lockout_message()), status=429)
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": lockout_message(), "minutes": retry_after() // 60},
            status=429,
        )
    response["Retry-After"] = str(retry_after())
    return response
