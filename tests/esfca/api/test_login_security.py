"""Login security on the API (contract 1.1, "Errors and limits" and "Tokens"): the password
validators on POST /users/."""

import pytest

from exporters.models import User

from .conftest import error_of

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def test_user_creation_refuses_the_password_1_with_the_validators_messages(world):
    response = world.api("admin").post(
        f"{V1}/users/",
        {"username": "weak", "password": "1", "role": "firm_viewer", "firm": world.own.firm.pk},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"]["password"] == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert not User.objects.filter(username="weak").exists()
