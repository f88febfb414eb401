import pytest
from django.test import Client

from .world import make_world


@pytest.fixture
def world(db):
    return make_world()


@pytest.fixture
def client_for(world):
    def make(role: str, **kwargs) -> Client:
        client = Client(**kwargs)
        user = world.user(role)
        if user is not None:
            client.force_login(user)
        return client

    return make
