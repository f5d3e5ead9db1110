"""Settings > Messaging: sections for email, SMS, chat bots and quiet hours; errors at the field (422, nothing
saved); secrets stored encrypted, never shown again and kept when left empty; "Send test" shows what the
provider answered; only members who may edit settings change anything."""
import json
import re
from email.header import decode_header, make_header

from sqlalchemy import select, text

from crm.extensions import db
from crm.notify import channel_settings
from crm.settings import get_setting
from tests.conftest import HX

TWILIO_SID = "AC" + "fedcba9876543210" * 2
TWILIO_TOKEN = "tw-token-UNIQUE-9931"


def url(tenant, path=""):
    return f"/{tenant.slug}/settings/messaging{path}"


def stored(app, tenant, key) -> str | None:
    """A settings row as the database holds it (text), None when absent."""
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(text(f"select value::text from t_{tenant.id}.settings where key = :k"),
                                  {"k": key}).scalar()


def test_page_shows_every_section(acme, admin):
    page = admin.get(url(acme, "/"))
    assert page.status_code == 200
    for title in ("Messaging", "Email", "SMS", "WeCom group bot", "DingTalk group bot", "Feishu group bot",
                  "Outgoing webhook", "Quiet hours"):
        assert title in page.text
    assert page.text.count(">Send test</button>") == 6  # email, SMS and the four bots
    assert 'name="quiet-enabled"' in page.text and 'checked' in page.text  # on by default, 21:00 to 08:00
    assert 'value="21:00"' in page.text and 'value="08:00"' in page.text


def test_a_sales_rep_may_not_see_or_change_messaging_settings(acme, add_member, client_as, app):
    account_id, _member = add_member(acme, "sales_rep")
    rep = client_as(account_id)
    assert rep.get(url(acme, "/")).status_code == 403
    assert rep.get(url(acme, "/sms?sms-provider=twilio"), headers=HX).status_code == 403
    assert rep.post(url(acme, "/sms"), data={"sms-provider": "http", "sms-url": "https://evil.example/"},
                    headers=HX).status_code == 403
    assert rep.post(url(acme, "/email"), data={"email-sender_name": "Hacked"}, headers=HX).status_code == 403
    assert rep.post(url(acme, "/test"), data={"channel": "email"}, headers=HX).status_code == 403
    assert stored(app, acme, "sms") is None and stored(app, acme, "email") is None


def test_a_member_who_may_only_view_settings_sees_them_read_only(acme, add_member, client_as, in_tenant):
    from crm.members.models import Role
    from crm.members.permissions import matrix

    in_tenant(acme, lambda: db.session.add(Role(key="settings_viewer", name="Settings viewer",
                                                permissions=matrix("none", settings={"view": "all"}))))
    account_id, _member = add_member(acme, "settings_viewer")
    viewer = client_as(account_id)
    page = viewer.get(url(acme, "/"))
    assert page.status_code == 200
    assert "may look at these settings but not change them" in page.text
    assert ">Save</button>" not in page.text and ">Send test</button>" not in page.text
    assert re.search(r'<input disabled id="email-sender_name"', page.text)
    assert viewer.post(url(acme, "/quiet-hours"), data={}, headers=HX).status_code == 403


def test_email_settings_are_saved_for_the_email_channel(acme, admin, in_tenant):
    response = admin.post(url(acme, "/email"), headers=HX,
                          data={"email-sender_name": "  Acme   Sales ", "email-reply_to": "Sales@Acme.example"})
    assert response.status_code == 204 and response.headers["HX-Location"] == url(acme, "/")
    assert in_tenant(acme, lambda: get_setting("email")) == {"sender_name": "Acme Sales",
                                                             "reply_to": "sales@acme.example"}
    page = admin.get(url(acme, "/"))
    assert "Email settings saved." in page.text and 'value="Acme Sales"' in page.text


def test_bad_reply_to_is_refused_at_the_field(acme, admin, in_tenant):
    response = admin.post(url(acme, "/email"), headers=HX,
                          data={"email-sender_name": "Acme", "email-reply_to": "not an address"})
    assert response.status_code == 422
    assert "<html" not in response.text and 'id="messaging-email"' in response.text
    assert re.search(r'id="email-reply_to"[^>]*value="not an address"', response.text)
    assert 'aria-invalid="true"' in response.text and "Enter a valid email address" in response.text
    assert in_tenant(acme, lambda: get_setting("email")) is None
    # Without htmx: the whole page, still 422, the message at the field.
    page = admin.post(url(acme, "/email"), data={"email-reply_to": "bad@"})
    assert page.status_code == 422 and "<html" in page.text and "Enter a valid email address" in page.text


def save_twilio(client, tenant, **fields):
    data = {"sms-provider": "twilio", "sms-account_sid": TWILIO_SID, "sms-auth_token": TWILIO_TOKEN,
            "sms-sender": "+14155550100", **fields}
    return client.post(url(tenant, "/sms"), data=data, headers=HX)


def test_sms_credentials_are_stored_encrypted_never_shown_and_kept_when_left_empty(app, acme, admin, in_tenant):
    assert save_twilio(admin, acme).status_code == 204
    row = stored(app, acme, "sms")
    assert TWILIO_SID in row and TWILIO_TOKEN not in row
    page = admin.get(url(acme, "/"))
    assert TWILIO_TOKEN not in page.text
    assert "**** 9931" in page.text and "Leave empty to keep it." in page.text
    assert re.search(r'<input autocomplete="new-password" id="sms-auth_token" name="sms-auth_token" '
                     r'placeholder="\*\*\*\* 9931" type="password" value="">', page.text)
    # Saved again with the token left empty: the token stays, the sender changes.
    assert save_twilio(admin, acme, **{"sms-auth_token": "", "sms-sender": "+14155550199"}).status_code == 204
    assert in_tenant(acme, channel_settings.sms_config) == {"provider": "twilio", "account_sid": TWILIO_SID,
                                                  "auth_token": TWILIO_TOKEN, "sender": "+14155550199",
                                                  "base_url": ""}
    # The audit log says the settings changed, never what the secret is.
    from crm.audit.models import AuditEntry

    entries = in_tenant(acme, lambda: [(e.summary, json.dumps(e.changes, ensure_ascii=False)) for e in
                                       db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "settings"))])
    assert [summary for summary, _changes in entries] == ["Messaging: SMS", "Messaging: SMS"]
    assert all(TWILIO_TOKEN not in changes for _summary, changes in entries)


def test_missing_sms_fields_are_refused_at_each_field(app, acme, admin):
    response = admin.post(url(acme, "/sms"), headers=HX, data={"sms-provider": "twilio", "sms-account_sid": "AC12"})
    assert response.status_code == 422
    for field, message in (("account_sid", "The Account SID starts with AC"), ("auth_token", "Enter this value."),
                           ("sender", "Enter the sending number")):
        assert re.search(rf'id="sms-{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="sms-{field}"',
                         response.text), field
        assert f'id="sms-{field}-error">{message}' in response.text
    assert 'value="AC12"' in response.text
    assert stored(app, acme, "sms") is None


def test_only_http_addresses_are_accepted(app, acme, admin):
    for bad in ("ftp://sms.example.com/send", "javascript:alert(1)", "https://", "sms.example.com/send",
                "https://exa mple.com/"):
        response = admin.post(url(acme, "/sms"), headers=HX, data={"sms-provider": "http", "sms-url": bad})
        assert response.status_code == 422, bad
        assert 'id="sms-url-error">Enter an http:// or https:// address' in response.text
        response = admin.post(url(acme, "/bots"), headers=HX, data={"channel": "feishu", "feishu-url": bad})
        assert response.status_code == 422, bad
        assert 'id="feishu-url-error">Enter an http:// or https:// address' in response.text
    assert stored(app, acme, "sms") is None and stored(app, acme, "bot_feishu") is None
    bad_header = admin.post(url(acme, "/sms"), headers=HX, data={
        "sms-provider": "http", "sms-url": "https://sms.example.com/send", "sms-auth_header": "X-Key\r\nEvil: 1"})
    assert bad_header.status_code == 422 and "A header name has only letters" in bad_header.text


def test_aliyun_settings_with_template_codes(acme, admin, in_tenant):
    fields = admin.get(url(acme, "/sms?sms-provider=aliyun"), headers=HX)
    assert fields.status_code == 200 and "<html" not in fields.text
    assert 'name="sms-access_key_secret"' in fields.text and 'name="sms-template_order_status"' in fields.text
    response = admin.post(url(acme, "/sms"), headers=HX, data={
        "sms-provider": "aliyun", "sms-access_key_id": "LTAI5tAbc123", "sms-access_key_secret": "ali-SECRET-77",
        "sms-sign_name": "阿里云短信测试", "sms-template_reminder": "SMS_154950909", "sms-template_default": "SMS_1",
        "sms-template_campaign": "not a code!"})
    assert response.status_code == 422 and 'id="sms-template_campaign-error"' in response.text
    assert "ali-SECRET-77" not in response.text  # a typed secret is not echoed back either
    response = admin.post(url(acme, "/sms"), headers=HX, data={
        "sms-provider": "aliyun", "sms-access_key_id": "LTAI5tAbc123", "sms-access_key_secret": "ali-SECRET-77",
        "sms-sign_name": "阿里云短信测试", "sms-template_reminder": "SMS_154950909", "sms-template_default": "SMS_1"})
    assert response.status_code == 204
    assert in_tenant(acme, channel_settings.sms_config) == {
        "provider": "aliyun", "access_key_id": "LTAI5tAbc123", "access_key_secret": "ali-SECRET-77",
        "sign_name": "阿里云短信测试", "region": "", "endpoint": "",
        "templates": {"reminder": "SMS_154950909", "default": "SMS_1"}}
    page = admin.get(url(acme, "/"))
    assert 'value="SMS_154950909"' in page.text and "ali-SECRET-77" not in page.text


def test_no_provider_switches_sms_off(acme, admin, in_tenant):
    assert save_twilio(admin, acme).status_code == 204
    assert admin.post(url(acme, "/sms"), headers=HX, data={"sms-provider": ""}).status_code == 204
    assert in_tenant(acme, channel_settings.sms_config) is None


def test_bot_url_and_secret_are_encrypted_and_masked(app, acme, admin, in_tenant):
    bot_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    response = admin.post(url(acme, "/bots"), headers=HX, data={"channel": "wecom", "wecom-url": bot_url})
    assert response.status_code == 204
    response = admin.post(url(acme, "/bots"), headers=HX, data={
        "channel": "webhook", "webhook-url": "https://hooks.example.com/crm", "webhook-secret": "whsec-UNIQUE-42"})
    assert response.status_code == 204
    assert "693a91f6" not in stored(app, acme, "bot_wecom")
    assert "whsec-UNIQUE-42" not in stored(app, acme, "bot_webhook")
    page = admin.get(url(acme, "/"))
    assert "693a91f6" not in page.text and "whsec-UNIQUE-42" not in page.text
    assert "https://qyapi.weixin.qq.com/…5aaa" in page.text and "**** E-42" in page.text
    assert in_tenant(acme, lambda: channel_settings.bot_config("webhook")) == {"url": "https://hooks.example.com/crm",
                                                                     "secret": "whsec-UNIQUE-42"}
    # An empty address keeps the saved one; a bot never saved needs one.
    assert admin.post(url(acme, "/bots"), headers=HX, data={"channel": "wecom"}).status_code == 204
    assert in_tenant(acme, lambda: channel_settings.bot_config("wecom"))["url"] == bot_url
    missing = admin.post(url(acme, "/bots"), headers=HX, data={"channel": "dingtalk"})
    assert missing.status_code == 422 and 'id="dingtalk-url-error">Enter this value.' in missing.text
    assert admin.post(url(acme, "/bots"), headers=HX, data={"channel": "telegram"}).status_code == 422
    # Switched off: gone.
    assert admin.post(url(acme, "/bots"), headers=HX, data={"channel": "wecom", "wecom-remove": "y"}).status_code == 204
    assert in_tenant(acme, lambda: channel_settings.bot_config("wecom")) is None


def test_quiet_hours_are_saved_switched_off_and_validated(acme, admin, in_tenant):
    from datetime import UTC, datetime

    from crm.notify import rules
    from crm.notify.models import Notification

    response = admin.post(url(acme, "/quiet-hours"), headers=HX,
                          data={"quiet-enabled": "y", "quiet-start": "22:30", "quiet-end": "07:00"})
    assert response.status_code == 204
    assert in_tenant(acme, channel_settings.quiet_hours) == {"start": "22:30", "end": "07:00"}
    bad = admin.post(url(acme, "/quiet-hours"), headers=HX,
                     data={"quiet-enabled": "y", "quiet-start": "25:00", "quiet-end": "07:00"})
    assert bad.status_code == 422 and 'id="quiet-start-error">Enter a time as HH:MM' in bad.text
    same = admin.post(url(acme, "/quiet-hours"), headers=HX,
                      data={"quiet-enabled": "y", "quiet-start": "07:00", "quiet-end": "07:00"})
    assert same.status_code == 422 and 'id="quiet-end-error">' in same.text
    assert in_tenant(acme, channel_settings.quiet_hours) == {"start": "22:30", "end": "07:00"}
    assert admin.post(url(acme, "/quiet-hours"), headers=HX, data={"quiet-start": "22:30",
                                                                   "quiet-end": "07:00"}).status_code == 204
    assert in_tenant(acme, lambda: get_setting("quiet_hours", "unset")) is None  # stored as null: off
    # rules.py then holds nothing back, even at 03:00 in Shanghai.
    night = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)
    held = in_tenant(acme, lambda: rules.held_until(Notification(kind="order_status"), night))
    assert held is None
    page = admin.get(url(acme, "/"))
    assert not re.search(r'name="quiet-enabled"[^>]*checked', page.text)


def test_send_test_sms_shows_the_providers_answer(acme, admin, httpserver):
    httpserver.expect_request("/sms").respond_with_json({"message": "Insufficient balance"}, status=402)
    assert admin.post(url(acme, "/sms"), headers=HX, data={
        "sms-provider": "http", "sms-url": httpserver.url_for("/sms"), "sms-auth_value": "Bearer k"}).status_code == 204
    failed = admin.post(url(acme, "/test"), headers=HX, data={"channel": "sms", "phone": "138 0013 8000"})
    assert failed.status_code == 200
    assert "alert-error" in failed.text
    assert "The test message was not sent: SMS provider answered HTTP 402: Insufficient balance" in failed.text
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["to"] == "+8613800138000" and sent["reference"].startswith("test:")
    httpserver.clear_all_handlers()
    httpserver.expect_request("/sms").respond_with_json({"id": "prov-777"})
    ok = admin.post(url(acme, "/test"), headers=HX, data={"channel": "sms", "phone": "13800138000"})
    assert ok.status_code == 200 and "alert-ok" in ok.text
    assert "Test SMS sent to +8613800138000" in ok.text and "prov-777" in ok.text
    bad_phone = admin.post(url(acme, "/test"), headers=HX, data={"channel": "sms", "phone": "12"})
    assert bad_phone.status_code == 422 and "Enter a valid phone number" in bad_phone.text


def test_send_test_before_anything_is_set_up(acme, admin):
    sms_test = admin.post(url(acme, "/test"), headers=HX, data={"channel": "sms", "phone": "13800138000"})
    assert sms_test.status_code == 422 and "Set up and save an SMS provider first." in sms_test.text
    bot_test = admin.post(url(acme, "/test"), headers=HX, data={"channel": "feishu"})
    assert bot_test.status_code == 422 and "Save the bot&#39;s webhook URL first." in bot_test.text
    assert admin.post(url(acme, "/test"), headers=HX, data={"channel": "pager"}).status_code == 422


def test_send_test_bot_shows_the_services_error_and_success(acme, admin, httpserver):
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 310000, "errmsg": "sign not match"})
    assert admin.post(url(acme, "/bots"), headers=HX, data={
        "channel": "dingtalk", "dingtalk-url": httpserver.url_for("/robot/send?access_token=t"),
        "dingtalk-secret": "SECx"}).status_code == 204
    failed = admin.post(url(acme, "/test"), headers=HX, data={"channel": "dingtalk"})
    assert failed.status_code == 200 and "sign not match" in failed.text and "alert-error" in failed.text
    content = json.loads(httpserver.log[0][0].get_data())["text"]["content"]
    assert content.startswith(f"Test message from {acme.name}\n")
    httpserver.clear_all_handlers()
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    ok = admin.post(url(acme, "/test"), headers=HX, data={"channel": "dingtalk"})
    assert ok.status_code == 200 and "Test message posted." in ok.text
    # Without htmx the whole page comes back with the result in the bot's section.
    page = admin.post(url(acme, "/test"), data={"channel": "dingtalk"})
    assert page.status_code == 200 and "<html" in page.text
    section = page.text.split('id="messaging-dingtalk"')[1].split("</section>")[0]
    assert "Test message posted." in section


def test_send_test_email_reaches_the_member(app, acme, admin, smtp_on):
    admin.post(url(acme, "/email"), headers=HX, data={"email-sender_name": "Acme Sales",
                                                      "email-reply_to": "sales@acme.example"})
    response = admin.post(url(acme, "/test"), headers=HX, data={"channel": "email"})
    assert response.status_code == 200 and f"Test email sent to admin@{acme.slug}.example." in response.text
    (mail,) = [m for m in smtp_on.messages if m["To"] == f"admin@{acme.slug}.example"]
    assert str(make_header(decode_header(mail["Subject"]))) == f"Test message from {acme.name}"
    assert mail["Reply-To"] == "sales@acme.example" and mail["From"].startswith("Acme Sales <")


def test_send_test_email_without_smtp_lands_in_the_dev_outbox(app, acme, admin):
    from crm.notify.models import DevMessage

    response = admin.post(url(acme, "/test"), headers=HX, data={"channel": "email"})
    assert response.status_code == 200 and "development outbox" in response.text
    with app.app_context():
        subjects = db.session.scalars(select(DevMessage.subject).where(DevMessage.tenant_id == acme.id)).all()
    assert subjects == [f"Test message from {acme.name}"]


def test_send_test_email_with_a_dead_smtp_server_shows_the_error(app, acme, admin, monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    response = admin.post(url(acme, "/test"), headers=HX, data={"channel": "email"})
    assert response.status_code == 200
    assert "The test message was not sent: the mail server refused" in response.text
