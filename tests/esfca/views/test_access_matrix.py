"""Every page × every role, generated from ``esfca.urls``: a page missing from the table fails.

Anonymous → the login page; another tenant's firm or summary → 404; a role that may see
but not act (firm viewer, bank reviewer, platform admin on a firm) → 403 on actions.
"""

import pytest
from django.test import Client
from django.urls import reverse

from esfca import urls as esfca_urls
from esfca.imports import import_job_create
from esfca.models import Allocation, Receipt
from tests.esfca.second_factor import log_in

from .test_movement_pages import conversion_and_transfer

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous", "officer", "foreign_officer", "viewer", "reviewer", "foreign_reviewer", "admin",
)  # fmt: skip

# Expected status per role, by kind of page.
FIRM_READ = {"officer": 200, "foreign_officer": 404, "viewer": 200, "reviewer": 200,
             "foreign_reviewer": 404, "admin": 200}  # fmt: skip
FIRM_ACT = {"officer": 200, "foreign_officer": 404, "viewer": 403, "reviewer": 403,
            "foreign_reviewer": 404, "admin": 403}  # fmt: skip
REVIEW = {"officer": 403, "foreign_officer": 403, "viewer": 403, "reviewer": 200,
          "foreign_reviewer": 200, "admin": 403}  # fmt: skip
REVIEW_OBJECT = {**REVIEW, "foreign_reviewer": 404}


def act(officer_status: int) -> dict:
    return {**FIRM_ACT, "officer": officer_status}


MOVEMENT_KINDS = ("receipt", "allocation", "conversion", "transfer")


# name: {method: expectations}; the officer's POSTs are empty forms (refused: 422, nothing
# saved) or actions that redirect back (302).
EXPECT = {
    "home": {
        "GET": {
            "officer": 200,
            "foreign_officer": 200,
            "viewer": 200,
            "reviewer": 302,
            "foreign_reviewer": 302,
            "admin": 200,
        }
    },
    "firm_dashboard": {"GET": FIRM_READ},
    "receipts": {"GET": FIRM_READ},
    "receipts_csv": {"GET": FIRM_READ},
    "allocations": {"GET": FIRM_READ},
    "allocations_csv": {"GET": FIRM_READ},
    **{f"{kind}_detail": {"GET": FIRM_READ} for kind in MOVEMENT_KINDS},
    **{
        f"{kind}_{action}": {"GET": FIRM_ACT, "POST": act(422)}
        for kind in MOVEMENT_KINDS
        for action in ("reverse", "correct")
    },
    "month_current": {"GET": {k: 302 if v == 200 else v for k, v in FIRM_READ.items()}},
    "month": {"GET": FIRM_READ},
    "month_download": {"GET": FIRM_READ},
    "month_file": {"POST": act(302)},
    "receipt_new": {"GET": FIRM_ACT, "POST": act(422)},
    "receipt_preview": {"POST": act(200)},
    "import_new": {"GET": FIRM_ACT, "POST": act(422)},
    "import_template": {"GET": FIRM_ACT},
    "import_detail": {"GET": FIRM_ACT},
    "import_run": {"POST": act(302)},
    "import_resume": {"POST": act(302)},
    "import_progress": {"GET": FIRM_ACT},
    "allocation_new": {"GET": FIRM_ACT, "POST": act(422)},
    "allocation_context": {"GET": FIRM_ACT},
    "conversion_new": {"GET": FIRM_ACT, "POST": act(422)},
    "transfer_new": {"GET": FIRM_ACT, "POST": act(422)},
    "review_queue": {"GET": REVIEW},
    "review_summary": {"GET": REVIEW_OBJECT, "POST": {**REVIEW_OBJECT, "reviewer": 422}},
    "review_summary_download": {"GET": REVIEW_OBJECT},
    "portfolio": {"GET": REVIEW},
    "portfolio_download": {"GET": REVIEW},
}


def _movement_pages(world, name: str) -> dict:
    """The movement pages' arguments, by kind (a conversion and a transfer recorded when
    one of their pages is asked for)."""
    firm = {"firm_id": world.firm.pk}
    found = {
        "receipt": Receipt.objects.get(reference="INV-NOW-1"),
        "allocation": Allocation.objects.get(reference="AWS-PREV-1"),
    }
    if name.startswith(("conversion_", "transfer_")):
        found["conversion"], found["transfer"] = conversion_and_transfer(world)
    return {
        f"{kind}_{page}": {**firm, "pk": movement.pk}
        for kind, movement in found.items()
        for page in ("detail", "reverse", "correct")
    }


def _kwargs(world, job_id: int, name: str = "") -> dict:
    month = f"{world.last_month:%Y-%m}"
    firm = {"firm_id": world.firm.pk}
    return {
        **_movement_pages(world, name),
        "firm_dashboard": firm,
        "receipts": firm,
        "receipts_csv": firm,
        "allocations": firm,
        "allocations_csv": firm,
        "month_current": firm,
        "month": {**firm, "month": month},
        "month_download": {**firm, "month": month, "fmt": "csv"},
        "month_file": {**firm, "month": month},
        "receipt_new": firm,
        "receipt_preview": firm,
        "import_new": firm,
        "import_template": {**firm, "fmt": "csv"},
        "import_detail": {**firm, "job_id": job_id},
        "import_run": {**firm, "job_id": job_id},
        "import_resume": {**firm, "job_id": job_id},
        "import_progress": {**firm, "job_id": job_id},
        "allocation_new": firm,
        "allocation_context": firm,
        "conversion_new": firm,
        "transfer_new": firm,
        "review_summary": {"pk": world.review.pk},
        "review_summary_download": {"pk": world.review.pk, "fmt": "csv"},
        "portfolio_download": {"fmt": "csv"},
    }


def test_every_page_has_expectations():
    names = {p.name for p in esfca_urls.urlpatterns}
    assert names == set(EXPECT), f"missing: {names - set(EXPECT)}, stale: {set(EXPECT) - names}"
    for name, methods in EXPECT.items():
        for method, table in methods.items():
            assert set(table) == set(ROLES) - {"anonymous"}, (name, method)


CASES = [
    (p.name, method) for p in esfca_urls.urlpatterns for method in EXPECT.get(p.name, {"GET": 0})
]
EMPTY_CSV = b"reference,value_date,amount,currency,client_name,client_country\n"


@pytest.mark.parametrize(("name", "method"), CASES)
def test_page_access(world, name, method):
    """One page and method, every role (the world is built once per page)."""
    job = import_job_create(
        firm=world.firm, actor=world.officer, filename="rows.csv", data=EMPTY_CSV
    )
    url = reverse(name, kwargs=_kwargs(world, job.pk, name).get(name, {}))
    seen, expected = {}, {}
    for role in ROLES:
        client = Client()
        user = world.user(role)
        if user is not None:
            log_in(client, user)
        response = client.get(url) if method == "GET" else client.post(url, {})
        if role == "anonymous":
            login = reverse("login") + "?next="
            seen[role] = (response.status_code, response.get("Location", "").startswith(login))
            expected[role] = (302, True)
        else:
            seen[role] = response.status_code
            expected[role] = EXPECT[name][method][role]
    assert seen == expected, (name, method)


POSTS = [(p.name) for p in esfca_urls.urlpatterns if "POST" in EXPECT.get(p.name, {})]


@pytest.mark.parametrize("name", POSTS)
def test_csrf_is_enforced_on_every_form(world, name):
    job = import_job_create(
        firm=world.firm, actor=world.officer, filename="rows.csv", data=EMPTY_CSV
    )
    url = reverse(name, kwargs=_kwargs(world, job.pk, name).get(name, {}))
    user = world.reviewer if name.startswith("review") else world.officer
    client = Client(enforce_csrf_checks=True)
    log_in(client, user)
    assert client.post(url, {}).status_code == 403  # no token: refused before the view
    page = client.get(reverse("home"), follow=True)
    token = page.context["csrf_token"]
    response = client.post(url, {"csrfmiddlewaretoken": str(token)})
    assert response.status_code != 403


# --- §11: a reviewer of the firm's other bank sees its bank's slice only --------------------

SLICE_PAGES = (
    "firm_dashboard", "receipts", "receipts_csv", "allocations", "allocations_csv", "month",
    "month_download",
)  # fmt: skip


def test_a_reviewer_of_the_firm_other_bank_sees_nothing_at_the_first(world):
    """The firm also banks at HABB (PKR, USD, one receipt there): HABB's reviewer reads
    every firm page and download and finds nothing of the firm's SCBL accounts."""
    from decimal import Decimal

    from esfca.models import Receipt
    from esfca.services import firm_account_open, receipt_record
    from exporters.validators import iban_pk
    from ledger.models import Account

    for n, currency in enumerate(("PKR", "USD"), start=70):
        firm_account_open(
            firm=world.firm, bank=world.foreign_bank, currency=currency, iban=iban_pk("HABB", n)
        )
    at_habb, _ = receipt_record(
        firm=world.firm, actor=world.officer, reference="AT-HABB-1",
        value_date=world.last_month, amount=Decimal("777.00"), currency="USD", bank="HABB",
        client_name="Umbrella plc", client_country="GB", purpose_code="9184",
    )  # fmt: skip
    hidden = ["INV-PREV-1", "AWS-PREV-1", "INV-NOW-1", "Acme Inc.", "Globex GmbH"]
    hidden += list(
        Account.objects.filter(owner=world.firm, bank=world.bank).values_list("iban", flat=True)
    )
    kwargs = _kwargs(world, 0)
    client = Client()
    log_in(client, world.foreign_reviewer)
    for name in SLICE_PAGES:
        for fmt in ("csv", "xlsx", "pdf") if name == "month_download" else (None,):
            args = {**kwargs[name], "fmt": fmt} if fmt else kwargs[name]
            response = client.get(reverse(name, kwargs=args))
            assert response.status_code == 200, name
            body = b"".join(response) if response.streaming else response.content
            if fmt in ("xlsx", "pdf"):
                continue  # binary: their text is checked in tests/esfca/summaries/test_banks.py
            text = body.decode()
            for secret in hidden:
                assert secret not in text, (name, secret)
    receipts = client.get(reverse("receipts", kwargs=kwargs["receipts"])).content.decode()
    assert "AT-HABB-1" in receipts
    # A movement's own page: HABB's receipt is there, an SCBL receipt is not found.
    at_scbl = Receipt.objects.get(firm=world.firm, reference="INV-PREV-1")
    for receipt, status in ((at_habb, 200), (at_scbl, 404)):
        page = reverse("receipt_detail", kwargs={"firm_id": world.firm.pk, "pk": receipt.pk})
        assert client.get(page).status_code == status
    # The firm's own officer still sees both banks.
    officer = Client()
    officer.force_login(world.officer)
    mine = officer.get(reverse("receipts", kwargs=kwargs["receipts"])).content.decode()
    assert "AT-HABB-1" in mine and "INV-PREV-1" in mine
