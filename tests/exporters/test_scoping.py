"""Tenant scoping selectors: who sees and who may act on which firm."""

from types import SimpleNamespace

import pytest

from exporters.models import Firm, Membership
from exporters.selectors import (
    banks_overseen_by,
    banks_reviewed_by,
    firm_visible_to,
    firms_operated_by,
    firms_overseen_by,
    firms_reviewed_by,
    firms_visible_to,
    user_can_operate,
    user_oversees_reviews,
    user_reviews_firm,
)
from exporters.services import OnboardingConflict, OnboardingError, firm_create, user_create
from tests.esfca.conftest import open_firm
from tests.exporters.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants():
    """Firms a and b at their own banks; an officer, a viewer and a reviewer of a; an admin."""
    a, b = open_firm(), open_firm()
    bank_of_a = a.accounts.first().bank
    officer = user_create(username="off", password="x-Long-pass-1", role="finance_officer", firm=a)
    viewer = user_create(username="view", password="x-Long-pass-1", role="firm_viewer", firm=a)
    reviewer = user_create(
        username="rev", password="x-Long-pass-1", role="bank_reviewer", bank=bank_of_a
    )
    admin = UserFactory(is_superuser=True, is_staff=True)
    return SimpleNamespace(
        a=a, b=b, bank_of_a=bank_of_a, officer=officer, viewer=viewer, reviewer=reviewer,
        admin=admin,
    )  # fmt: skip


def test_roles_see_their_own_tenant_only(tenants):
    t = tenants
    a, b, bank_of_a = t.a, t.b, t.bank_of_a
    officer, viewer, reviewer, admin = t.officer, t.viewer, t.reviewer, t.admin
    assert list(firms_visible_to(officer)) == [a]
    assert list(firms_visible_to(viewer)) == [a]
    assert list(firms_visible_to(reviewer)) == [a]
    assert set(firms_visible_to(admin)) == {a, b}
    assert list(firms_operated_by(officer)) == [a]
    assert list(firms_operated_by(viewer)) == []
    assert list(firms_operated_by(reviewer)) == []
    assert list(firms_operated_by(admin)) == []
    assert list(banks_reviewed_by(reviewer)) == [bank_of_a]
    assert list(banks_reviewed_by(officer)) == []


def test_one_firm_for_a_user_or_not_found_and_who_acts_on_it(tenants):
    t = tenants
    a, b, bank_of_a = t.a, t.b, t.bank_of_a
    officer, viewer, reviewer, admin = t.officer, t.viewer, t.reviewer, t.admin
    assert firm_visible_to(officer, a.pk) == a
    assert firm_visible_to(reviewer, a.pk) == a
    assert firm_visible_to(admin, b.pk) == b
    for user, firm_id in ((officer, b.pk), (viewer, b.pk), (reviewer, b.pk), (admin, 0)):
        with pytest.raises(Firm.DoesNotExist):
            firm_visible_to(user, firm_id)
    assert [user_can_operate(u, a) for u in (officer, viewer, reviewer, admin)] == [
        True, False, False, False,
    ]  # fmt: skip
    assert [user_reviews_firm(u, a) for u in (officer, viewer, reviewer, admin)] == [
        False, False, True, False,
    ]  # fmt: skip
    assert not user_reviews_firm(reviewer, b)
    assert list(firms_reviewed_by(reviewer)) == [a]
    assert list(firms_reviewed_by(admin)) == []
    assert list(firms_overseen_by(reviewer)) == [a]
    assert set(firms_overseen_by(admin)) == {a, b}
    assert list(firms_overseen_by(officer)) == []
    assert list(banks_overseen_by(reviewer)) == [bank_of_a]
    assert set(banks_overseen_by(admin)) == {bank_of_a, b.accounts.first().bank}
    assert list(banks_overseen_by(officer)) == []
    assert [user_oversees_reviews(u) for u in (officer, viewer, reviewer, admin)] == [
        False, False, True, True,
    ]  # fmt: skip


def test_user_create_checks_the_scope_of_the_role():
    firm = open_firm()
    with pytest.raises(OnboardingError):
        user_create(username="x", password="x-Long-pass-1", role="finance_officer")
    with pytest.raises(OnboardingError):
        user_create(username="y", password="x-Long-pass-1", role="bank_reviewer")
    user_create(username="z", password="x-Long-pass-1", role="firm_viewer", firm=firm)
    with pytest.raises(OnboardingConflict):
        user_create(username="z", password="x-Long-pass-1", role="firm_viewer", firm=firm)
    assert Membership.objects.filter(user__username="z").count() == 1


def test_firm_create_validates_identifiers():
    with pytest.raises(OnboardingError) as refused:
        firm_create(name="X", ntn="12", kind="it_company", registration_body="PSEB")
    assert "ntn" in refused.value.details
    with pytest.raises(OnboardingError):
        firm_create(
            name="Y", ntn="1234567", kind="it_company", registration_body="SELF_DECLARATION"
        )


def test_unknown_role_is_a_validation_error():
    with pytest.raises(OnboardingError) as refused:
        user_create(username="q", password="x-Long-pass-1", role="superhero")
    assert "role" in refused.value.details
