"""API tokens (api-contract.md 1.1, "Tokens"): a lifetime, revocation by their owner, and
revocation of all of a user's tokens when the password changes.

The tokens are DRF's (``rest_framework.authtoken``: one per user, ``created`` stamped). A token
lives API_TOKEN_LIFETIME_HOURS from its creation, whatever it is used for meanwhile; the
authentication class (``esfca/api/authentication.py``) refuses and deletes an expired one.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from .audit import audit


def token_lifetime() -> timedelta:
    return timedelta(hours=settings.API_TOKEN_LIFETIME_HOURS)


def token_expires_at(token: Token) -> datetime:
    return token.created + token_lifetime()


def token_expired(token: Token) -> bool:
    return timezone.now() >= token_expires_at(token)


def token_issue(*, user) -> Token:
    """The user's token for a sign-in that passed every check: the current one while it
    lives (every client of the user shares it), a new one once it has expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and token_expired(token):
        token_expire(token)
        token, _ = Token.objects.get_or_create(user=user)
    return token


def token_expire(token: Token) -> None:
    """Delete a token whose lifetime is over (audited like a revocation)."""
    if Token.objects.filter(pk=token.pk).delete()[0]:
        audit(None, None, "api_token_revoked", token.user, reason="expired")


def token_revoke(*, user, actor, reason: str) -> int:
    """Revoke every API token of ``user`` (DELETE /api/v1/auth/token/, a password change);
    audited when there was one. Returns how many were revoked."""
    revoked, _ = Token.objects.filter(user=user).delete()
    if revoked:
        audit(actor, None, "api_token_revoked", user, reason=reason)
    return revoked


def tokens_revoke_on_password_change(sender, instance, raw=False, update_fields=None, **kwargs):
    """``pre_save`` of the user model (connected in ``EsfcaConfig.ready``): a password hash
    that differs from the stored one revokes the user's tokens, in the same transaction.

    A signal rather than a call in each path because passwords change in several places that
    are not ours (the password change and reset pages, the admin, ``changepassword``), and
    every one of them ends in ``save()``. Django re-hashing a password at sign-in (a new
    hasher or iteration count) counts as a change too: the token is issued again."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        token_revoke(user=instance, actor=None, reason="password_changed")
