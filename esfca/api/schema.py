"""How the OpenAPI document names this package's authentication classes (drf-spectacular
extensions, registered by being imported: esfca/api/urls.py does)."""

from drf_spectacular.authentication import SessionScheme


class VerifiedSessionScheme(SessionScheme):
    """The browser session (cookieAuth), past the second factor when the user needs one."""

    target_class = "esfca.api.authentication.VerifiedSessionAuthentication"
