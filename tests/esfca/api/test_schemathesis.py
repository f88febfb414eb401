"""Schemathesis over the whole OpenAPI document the project serves: every operation, as a
finance officer and as a bank reviewer (and anonymous), with bounded, derandomized
examples. No response may be a 5xx, and every response must be one the document declares
(status code, content type, body schema).

The path ids are pointed at the caller's own firm and its movements, so the examples reach
the services rather than stopping at 404; the month and the other path parts stay
generated (the months 0860-01 and 9999-12 were 500s once).
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

from .conftest import allocation_body, receipt_body
from .test_contract import firm_url

pytestmark = pytest.mark.django_db

ROLES = ("finance_officer", "bank_reviewer", "anonymous")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _document() -> dict:
    """The document the schema view serves, generated without a request."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(json.loads(json.dumps(_document(), default=str)))
schema.app = application
# Valid requests and invalid ones (wrong types, broken patterns, missing fields) alike.
schema.config.generation.update(modes=list(GenerationMode))


@pytest.fixture
def movements(world):
    """One receipt and one allocation of the own firm, for the movement paths."""
    officer = world.api(world.own.officer)
    receipt = officer.post(firm_url(world, "receipts/"), receipt_body())
    allocation = officer.post(firm_url(world, "allocations/"), allocation_body())
    assert (receipt.status_code, allocation.status_code) == (201, 201)
    return {"rid": receipt.json()["id"], "aid": allocation.json()["id"]}


@pytest.fixture
def connection_kept(movements):
    """The calls go through the project's WSGI application in this process, inside the
    test's transaction: the request signals must not close the connection between calls
    (Django's own test client arranges the same, and undoes it after each of its
    requests: hence after ``movements``)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _own_ids(case, world, movements) -> None:
    ids = {"id": world.own.firm.pk, "firm_id": world.own.firm.pk, "code": world.own.bank.code}
    ids |= movements
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_and_never_5xx(
    case, world, movements, connection_kept
):
    _own_ids(case, world, movements)
    for role in ROLES:
        headers = {}
        if role != "anonymous":
            token, _ = Token.objects.get_or_create(user=world.user(role))
            headers["Authorization"] = f"Token {token.key}"
        case.call_and_validate(headers=headers, checks=CHECKS)
