"""Token authentication that looks a key up only when it could be one."""

import re

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token scheme; a malformed key (e.g. with a NUL byte, which PostgreSQL refuses
    in a query) is a plain 401 instead of reaching the database."""

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.fullmatch(key):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)


# Token first, so an unauthenticated call answers 401 with WWW-Authenticate: Token.
AUTHENTICATION = [ApiTokenAuthentication, SessionAuthentication]
