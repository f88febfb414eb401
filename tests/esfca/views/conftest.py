import pytest
from django.test import Client

from tests.esfca.second_factor import log_in

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
            log_in(client, user)
        return client

    return make
