"""The development outbox needs sign-in and shows an account only its own workspaces' messages and the
platform emails addressed to it: never another workspace's invitation or anyone's reset link."""
import re


def test_the_dev_outbox_needs_sign_in(app):
    response = app.test_client().get("/dev/outbox")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_each_account_sees_only_its_workspaces_messages_and_its_own_emails(
        app, acme, globex, admin, client_as, add_member, role_id, run_worker):
    for tenant, client, invitee in ((acme, admin, "joins.acme@example.com"),
                                    (globex, client_as(globex.admin_account_id), "joins.globex@example.com")):
        client.post(f"/{tenant.slug}/settings/invitations", data={"email": invitee, "role_id": role_id(tenant,
                                                                                                      "sales_rep")})
    anyone = app.test_client()
    for email in (f"admin@{acme.slug}.example", f"admin@{globex.slug}.example"):
        assert anyone.post("/password/forgot", data={"email": email}).status_code == 303
    run_worker()

    page = admin.get("/dev/outbox").text
    assert "joins.acme@example.com" in page and re.search(r"/invitations/[\w-]+", page)
    assert "joins.globex@example.com" not in page
    assert f"admin@{acme.slug}.example" in page and "/password/reset/" in page  # the email sent to this account
    assert f"admin@{globex.slug}.example" not in page

    globex_page = client_as(globex.admin_account_id).get("/dev/outbox").text
    assert "joins.globex@example.com" in globex_page and "joins.acme@example.com" not in globex_page

    rep_account, rep_member = add_member(acme, "sales_rep", "Ren Rep")
    assert "joins.acme@example.com" in client_as(rep_account).get("/dev/outbox").text
    admin.post(f"/{acme.slug}/settings/members/{rep_member}/active", data={"active": "0"})
    deactivated = client_as(rep_account).get("/dev/outbox").text
    assert "joins.acme@example.com" not in deactivated  # no longer a member: no longer its workspace's mail
