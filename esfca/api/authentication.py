"""Token authentication that looks a key up only when it could be one, and refuses an
expired token (api-contract.md 1.1, "Tokens")."""

import re

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from esfca.tokens import token_expire, token_expired

TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token scheme; a malformed key (e.g. with a NUL byte, which PostgreSQL refuses
    in a query) is a plain 401 instead of reaching the database."""

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.fullmatch(key):
            raise AuthenticationFailed("Invalid token.")
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            token_expire(token)
            raise AuthenticationFailed(
                "The token has expired: ask POST /api/v1/auth/token/ for a new one."
            )
        return user, token


# Token first, so an unauthenticated call answers 401 with WWW-Authenticate: Token.
AUTHENTICATION = [ApiTokenAuthentication, SessionAuthentication]
