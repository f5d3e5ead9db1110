"""The one error path: a service's Invalid comes back as the view's form with the messages at the fields (422),
or as a flash and a redirect for a button; NotFound is the 404 page; nothing refused is saved."""
from sqlalchemy import select

from crm.customers.models import Customer
from crm.errors import Invalid
from crm.extensions import db
from crm.web import refused
from tests.conftest import HX


def test_a_refused_form_comes_back_with_the_messages_at_its_fields_and_nothing_saved(acme, admin, make_customer,
                                                                                       in_tenant):
    customer_id = make_customer(acme, name="Old Name", email="old@example.com")
    answer = admin.post(f"/{acme.slug}/customers/{customer_id}", headers=HX,
                        data={"name": "New Name", "email": "broken@", "stage": "lead"})
    assert answer.status_code == 422
    assert '<small class="error" id="email-error">Enter a valid email address.</small>' in answer.text
    assert 'value="New Name"' in answer.text and 'value="broken@"' in answer.text  # what was typed is kept
    assert "<html" not in answer.text  # only the form, which htmx swaps in place
    stored = in_tenant(acme, lambda: db.session.execute(
        select(Customer.name, Customer.email).where(Customer.id == customer_id)).one())
    assert tuple(stored) == ("Old Name", "old@example.com")


def test_a_refused_button_flashes_why_and_goes_back(acme, people, client_as, make_customer):
    mine = make_customer(acme, name="Taken", owner_id=str(people["rep"].member_id))
    rep = client_as(people["rep"].account_id)
    answer = rep.post(f"/{acme.slug}/pool/{mine}/claim?level=A")
    assert answer.status_code == 303 and answer.headers["Location"] == f"/{acme.slug}/pool/?level=A"
    assert "Taken already has an owner." in rep.get(answer.headers["Location"]).text


def test_a_refused_htmx_button_navigates_back_and_shows_why(acme, people, client_as, make_customer):
    mine = make_customer(acme, name="Taken", owner_id=str(people["rep"].member_id))
    rep = client_as(people["rep"].account_id)
    answer = rep.post(f"/{acme.slug}/pool/{mine}/claim", headers=HX)
    assert answer.status_code == 204 and answer.headers["HX-Location"] == f"/{acme.slug}/pool/"
    assert "Taken already has an owner." in rep.get(f"/{acme.slug}/pool/", headers=HX).text


def test_a_refused_htmx_action_gets_422_and_the_message_in_its_fragment(acme, admin, make_deal, stage_ids):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="Stay put")
    answer = admin.post(f"/{acme.slug}/deals/{deal_id}/move", headers={**HX, "HX-Target": "board"},
                        data={"stage_id": ids["Lost"]})
    assert answer.status_code == 422
    assert "Say why the deal was lost." in answer.text and "<html" not in answer.text


def test_without_a_chosen_answer_the_user_goes_back_to_the_page_they_came_from(app):
    came_from_pool = {"Referer": "http://localhost/acme/pool/?level=A"}
    with app.test_request_context("/acme/pool/claim", method="POST", headers=came_from_pool):
        answer = refused(Invalid({"ids": "Choose customers first."}))
    assert answer.status_code == 303 and answer.headers["Location"] == "/acme/pool/?level=A"
    for foreign in ("http://evil.example/acme/pool/", "http://localhost//evil.example/", ""):
        with app.test_request_context("/acme/pool/claim", method="POST", headers={"Referer": foreign}):
            assert refused(Invalid({"ids": "No."})).headers["Location"] == "/"


def test_a_record_a_service_does_not_find_is_the_404_page(acme, globex, admin, make_customer):
    elsewhere = make_customer(globex, name="Globex's own")
    page = admin.get(f"/{acme.slug}/customers/{elsewhere}")
    assert page.status_code == 404 and "This page does not exist, or you do not have access to it." in page.text
    assert "<html" in page.text
    fragment = admin.post(f"/{acme.slug}/customers/{elsewhere}/fields/company", headers=HX, data={"value": "x"})
    assert fragment.status_code == 404 and "This page does not exist" in fragment.text and "<html" not in fragment.text


def test_a_request_larger_than_accepted_is_a_clear_413_page(acme, admin):
    """Megabytes posted to a form are refused before anything reads them, with a page that says why."""
    customers = f"/{acme.slug}/customers/"
    huge = admin.post(f"{customers}new", data={"name": "x" * (3 * 1024 * 1024)})
    assert huge.status_code == 413
    assert "larger than this page accepts" in huge.text
    assert "x" * 100 not in admin.get(customers).text
