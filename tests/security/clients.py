"""Clients of the security tests: a web client signed in past the second factor, and an API
client with the user's token (both answer a server error as a 500 rather than raising it)."""

from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.esfca.second_factor import log_in


def web(user) -> Client:
    return log_in(Client(raise_request_exception=False), user)


def api(user=None) -> APIClient:
    client = APIClient(raise_request_exception=False)
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
