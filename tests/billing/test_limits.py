"""Each of a plan's limits crossed where it is crossed, with a message that names it and links to the billing
page: customers (the page, the API, an import that says how many rows fit), file storage, SMS credits (held, not
lost, and sent once the limit is raised) and features the plan lacks (campaigns, the API)."""
import io
from html import unescape

from sqlalchemy import func, select

from crm.customers.models import Customer
from crm.extensions import db
from crm.notify.models import Notification
from tests.attachments.conftest import png
from tests.billing.test_standing import api_token
from tests.conftest import HX
from tests.imports.conftest import csv_rows, run_import  # noqa: F401  (the import fixtures)


def live_customers(in_tenant, tenant) -> int:
    return in_tenant(tenant, lambda: db.session.scalar(select(func.count(Customer.id))
                                                       .where(Customer.deleted_at.is_(None))))


def test_creating_a_customer_past_the_plan_is_refused_on_the_page_and_in_the_api(app, acme, admin, on_plan,
                                                                                  make_customer, in_tenant):
    on_plan(acme, customers=2)
    make_customer(acme, name="One")
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "Two"}).status_code == 303
    refused = admin.post(f"/{acme.slug}/customers/", data={"name": "Three"})
    assert refused.status_code == 402
    assert "Your plan's limit of 2 customers is reached" in unescape(refused.text)
    assert f'href="/{acme.slug}/settings/billing/"' in refused.text
    htmx = admin.post(f"/{acme.slug}/customers/", data={"name": "Three"}, headers=HX)
    assert htmx.status_code == 402 and "data-flash-link" in htmx.text  # app.js puts message and link in the flashes
    api = app.test_client().post("/api/v1/customers/", json={"name": "Three"}, headers=api_token(app, in_tenant, acme))
    assert api.status_code == 402 and "limit of 2 customers" in api.get_json()["detail"]
    assert live_customers(in_tenant, acme) == 2
    # The trash frees room: a customer in it does not count.
    assert admin.post(f"/{acme.slug}/customers/bulk", data={"ids": [in_tenant(acme, lambda: db.session.scalar(
        select(Customer.id).where(Customer.name == "One")))], "action": "delete"}).status_code == 303
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "Three"}).status_code == 303


def test_an_import_says_how_many_rows_fit_and_imports_no_more(acme, admin, on_plan, make_customer, in_tenant,
                                                              run_import, csv_rows):
    on_plan(acme, customers=3)
    make_customer(acme, name="Already here")
    rows = [["Name", "Phone"]] + [[f"New {i}", f"1380013800{i}"] for i in range(5)]
    checked = run_import(acme, rows, {"Name": "name", "Phone": "phone"}, check_only=True)
    assert checked.counts["created"] == 2 and checked.counts["errors"] == 3
    done = run_import(acme, rows, {"Name": "name", "Phone": "phone"})
    assert done.counts["created"] == 2 and done.counts["errors"] == 3
    assert live_customers(in_tenant, acme) == 3
    result = admin.get(f"/{acme.slug}/imports/{done.id}/errors.csv")
    assert result.status_code == 200 and "limit of 3 customers is reached" in result.get_data().decode("utf-8-sig")


def test_an_upload_past_the_storage_is_refused_and_nothing_is_kept(app, acme, admin, on_plan, make_customer,
                                                                   in_tenant):
    customer_id = make_customer(acme)
    image = png()
    on_plan(acme, storage_bytes=len(image) + 10)
    first = admin.post(f"/{acme.slug}/files/customer/{customer_id}", data={"files": [(io.BytesIO(image), "a.png")]},
                       content_type="multipart/form-data", headers=HX)
    assert first.status_code == 200
    second = admin.post(f"/{acme.slug}/files/customer/{customer_id}", data={"files": [(io.BytesIO(image), "b.png")]},
                        content_type="multipart/form-data", headers=HX)
    assert second.status_code == 402 and "would pass your plan's file storage" in unescape(second.text)
    from crm.attachments.models import Attachment

    assert in_tenant(acme, lambda: db.session.scalar(select(func.count(Attachment.id)))) == 1


def test_sms_past_the_months_credits_are_held_then_sent_when_the_limit_is_raised(
        app, acme, admin, on_plan, in_tenant, run_worker, outbox_rows):
    from crm.billing.models import Plan
    from crm.notify import outbox
    from crm.platform import service as platform

    on_plan(acme, sms_per_month=1)

    def queue_three():
        for i in range(3):
            outbox.schedule(channel="sms", kind="reminder", recipient=f"+861380013800{i}", key=f"credits:{i}",
                            member_id=acme.admin_member_id, payload={"customer": "王芳", "due": "09:30"})

    in_tenant(acme, queue_three)
    run_worker()
    assert [row[2] for row in outbox_rows(acme)] == ["sent", "scheduled", "scheduled"]
    held = in_tenant(acme, lambda: db.session.scalar(select(func.count(Notification.id)).where(
        Notification.held_by_credits)))
    assert held == 2
    page = unescape(admin.get(f"/{acme.slug}/messages/outbox?status=scheduled").text)
    assert page.count("held: over the plan's SMS credits") == 2
    assert "2 SMS are held: over the plan's SMS credits" in unescape(admin.get(f"/{acme.slug}/settings/billing/").text)

    with app.app_context():  # the operator raises the limit: the held messages go at once
        operator = _account(acme.admin_account_id)
        plan = Plan(key=f"more-{acme.slug}", name_en="More", name_zh="更多", sms_per_month=100, features=[],
                    sms_beyond="hold", position=100, public=False)
        db.session.add(plan)
        db.session.flush()
        platform.change_plan(operator, platform.get_tenant(acme.id), plan.key, "127.0.0.1")
        db.session.commit()
    run_worker()
    assert [row[2] for row in outbox_rows(acme)] == ["sent", "sent", "sent"]


def _account(account_id):
    from crm.accounts.models import Account

    return db.session.get(Account, account_id)


def test_features_outside_the_plan_answer_with_the_same_kind_of_message(app, acme, admin, on_plan, in_tenant):
    headers = api_token(app, in_tenant, acme)
    on_plan(acme, features=())
    page = admin.get(f"/{acme.slug}/campaigns/")
    assert page.status_code == 402 and "Campaigns are not included in your plan." in page.text
    api = app.test_client().get("/api/v1/customers/", headers=headers)
    assert api.status_code == 402 and api.get_json()["detail"] == "The API is not included in your plan."
    on_plan(acme, features=("campaigns", "api"))
    assert admin.get(f"/{acme.slug}/campaigns/").status_code == 200
    assert app.test_client().get("/api/v1/customers/", headers=headers).status_code == 200
