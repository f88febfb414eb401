"""The API's two ways in (REST_FRAMEWORK's defaults, and every view of this package):

- a token, looked up only when the key could be one, refused once expired (api-contract.md
  1.1, "Tokens"; esfca/tokens.py);
- a browser session, once past the second factor when the user has to pass one
  (esfca/second_factor.py): a session that has only seen the password is anonymous here, as
  it is on the web pages (esfca/middleware.py).

DRF loads these classes from settings while apps may still be loading, so the model-bound
modules are imported where they are used (as DRF's own TokenAuthentication does).
"""

import re

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token scheme; a malformed key (e.g. with a NUL byte, which PostgreSQL refuses
    in a query) is a plain 401 instead of reaching the database."""

    def authenticate_credentials(self, key):
        from esfca.tokens import token_expire, token_expired

        if not TOKEN_KEY.fullmatch(key):
            raise AuthenticationFailed("Invalid token.")
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            token_expire(token)
            raise AuthenticationFailed(
                "The token has expired: ask POST /api/v1/auth/token/ for a new one."
            )
        return user, token


class VerifiedSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        from esfca.second_factor import second_factor_expected

        found = super().authenticate(request)
        if found is None:
            return None
        user = found[0]
        verified = getattr(user, "is_verified", None)  # set by django-otp's OTPMiddleware
        if (verified is None or not verified()) and second_factor_expected(user):
            return None
        return found


# Token first, so an unauthenticated call answers 401 with WWW-Authenticate: Token.
AUTHENTICATION = [ApiTokenAuthentication, VerifiedSessionAuthentication]
