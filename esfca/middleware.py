"""The web's second-factor gate (esfca/second_factor.py): a signed-in user who must pass a
second factor and has not yet in this session reaches only the enrolment page (no device yet)
or the code page, and may log out or switch the language; every other page sends them there.

It sits after django-otp's OTPMiddleware (``request.user.is_verified()``) and guards every
page whatever signed the user in (the login page, the admin's, a future one). The API is
guarded by its own authentication classes (esfca/api/authentication.py).
"""

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from .api.exceptions import API_PREFIX
from .second_factor import second_factor_enrolled, second_factor_expected

# Signing in again as someone else, out, or switching the language stay open.
OPEN = {"second_factor_verify", "second_factor_enrol", "login", "logout", "set_language"}


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(API_PREFIX) or request.resolver_match.view_name in OPEN:
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified() or not second_factor_expected(user):
            return None
        page = "second_factor_verify" if second_factor_enrolled(user) else "second_factor_enrol"
        url = f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}"
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return redirect(url)
