"""Tenant scoping selectors: who sees and who may act on which firm."""

import pytest

from exporters.models import Membership
from exporters.selectors import banks_reviewed_by, firms_operated_by, firms_visible_to
from exporters.services import OnboardingConflict, OnboardingError, firm_create, user_create
from tests.esfca.conftest import open_firm
from tests.exporters.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_roles_see_their_own_tenant_only():
    a, b = open_firm(), open_firm()
    bank_of_a = a.accounts.first().bank
    officer = user_create(username="off", password="x-Long-pass-1", role="finance_officer", firm=a)
    viewer = user_create(username="view", password="x-Long-pass-1", role="firm_viewer", firm=a)
    reviewer = user_create(
        username="rev", password="x-Long-pass-1", role="bank_reviewer", bank=bank_of_a
    )
    admin = UserFactory(is_superuser=True, is_staff=True)
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
