"""Every API list and the review queue cost the same number of queries in a small world and
in one grown in every direction (issue 15: no N+1)."""

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.esfca.pages import grow, queries
from tests.esfca.views.world import make_world


def _client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _counts(world) -> dict[str, int]:
    firm, month = world.firm.pk, f"{world.last_month:%Y-%m}"
    officer, reviewer = _client(world.officer), _client(world.reviewer)
    pages = {
        "receipts": (officer, f"/api/v1/firms/{firm}/receipts/", {}),
        "receipts (slice)": (reviewer, f"/api/v1/firms/{firm}/receipts/", {}),
        "allocations": (officer, f"/api/v1/firms/{firm}/allocations/", {}),
        "conversions": (officer, f"/api/v1/firms/{firm}/conversions/", {}),
        "transfers": (officer, f"/api/v1/firms/{firm}/transfers/", {}),
        "balances": (officer, f"/api/v1/firms/{firm}/balances/", {}),
        "summary": (officer, f"/api/v1/firms/{firm}/summaries/{month}/", {}),
        "reviews": (reviewer, "/api/v1/reviews/", {}),
        "reviews (filed)": (reviewer, "/api/v1/reviews/", {"status": "filed"}),
        "portfolio": (reviewer, f"/api/v1/banks/{world.bank.code}/portfolio/{month}/", {}),
    }
    return {
        name: queries(client, url, **params)[0] for name, (client, url, params) in pages.items()
    }


def test_every_list_costs_the_same_queries_whatever_the_data(db):
    world = make_world()
    grow(world, receipts=2, months=3, firms=1)
    small = _counts(world)
    grow(world, receipts=24, months=6, firms=3, after=3)
    large = _counts(world)
    assert small == large
