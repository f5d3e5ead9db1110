"""Chat-bot channels against a real local HTTP server: WeCom, DingTalk and Feishu group bots and the generic
webhook get exactly the body and signature their documentation asks for (recomputed here independently);
their refusals and timeouts become ChannelError with the service's message."""
import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
from sqlalchemy import text
from werkzeug import Response

from crm.extensions import db
from crm.notify import bots, channel_settings, transport
from crm.notify.messages import Message
from crm.notify.models import Notification
from crm.notify.transport import ChannelError

MESSAGE = Message("Reminder: Call 王芳", "Call 王芳 at 09:30.\nAsk about the quote", "<p>…</p>")
CONTENT = "Reminder: Call 王芳\nCall 王芳 at 09:30.\nAsk about the quote"


def only_request(httpserver):
    assert len(httpserver.log) == 1, httpserver.log
    return httpserver.log[0][0]


def test_wecom_posts_a_text_message(ctx, httpserver):
    httpserver.expect_request("/cgi-bin/webhook/send", method="POST").respond_with_json({"errcode": 0, "errmsg": "ok"})
    url = httpserver.url_for("/cgi-bin/webhook/send?key=693a91f6-7xxx")
    bots.post("wecom", {"url": url, "secret": ""}, MESSAGE)
    request = only_request(httpserver)
    assert request.args["key"] == "693a91f6-7xxx"
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.get_data()) == {"msgtype": "text", "text": {"content": CONTENT}}


def test_wecom_refusal_carries_its_errmsg(ctx, httpserver):
    httpserver.expect_request("/cgi-bin/webhook/send").respond_with_json(
        {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1700000000_1], more info at https://open.work."})
    with pytest.raises(ChannelError) as error:
        bots.post("wecom", {"url": httpserver.url_for("/cgi-bin/webhook/send?key=x")}, MESSAGE)
    assert "invalid webhook url" in str(error.value) and "93000" in str(error.value)


def expected_dingtalk_sign(timestamp: str, secret: str) -> str:
    string_to_sign = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign, digestmod=hashlib.sha256).digest()).decode()


def test_dingtalk_signs_the_url_with_timestamp_and_secret(ctx, httpserver):
    secret = "SEC000000000000000000000000000000000000000000000000000000000000000"
    httpserver.expect_request("/robot/send", method="POST").respond_with_json({"errcode": 0, "errmsg": "ok"})
    before = int(time.time() * 1000)
    bots.post("dingtalk", {"url": httpserver.url_for("/robot/send?access_token=abc123"), "secret": secret}, MESSAGE)
    request = only_request(httpserver)
    raw = parse_qs(request.query_string.decode())  # the sign arrives URL-encoded and decodes to base64
    assert raw["access_token"] == ["abc123"]
    timestamp = raw["timestamp"][0]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    assert raw["sign"] == [expected_dingtalk_sign(timestamp, secret)]
    # As DingTalk asks: the base64 sign URL-encoded ('+', '/' and '=' escaped), after the original query.
    assert request.query_string.decode() == (f"access_token=abc123&timestamp={timestamp}"
                                             f"&sign={quote_plus(expected_dingtalk_sign(timestamp, secret))}")
    assert json.loads(request.get_data()) == {"msgtype": "text", "text": {"content": CONTENT}}


def test_dingtalk_without_secret_and_its_refusal(ctx, httpserver):
    httpserver.expect_request("/robot/send").respond_with_json(
        {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"})
    with pytest.raises(ChannelError) as error:
        bots.post("dingtalk", {"url": httpserver.url_for("/robot/send?access_token=abc"), "secret": ""}, MESSAGE)
    assert "sign not match" in str(error.value) and "310000" in str(error.value)
    assert set(only_request(httpserver).args) == {"access_token"}


def expected_feishu_sign(timestamp: str, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()


def test_feishu_signs_the_body(ctx, httpserver):
    httpserver.expect_request("/open-apis/bot/v2/hook/abc", method="POST").respond_with_json(
        {"code": 0, "data": {}, "msg": "success"})
    before = int(time.time())
    bots.post("feishu", {"url": httpserver.url_for("/open-apis/bot/v2/hook/abc"), "secret": "fs-secret-1"}, MESSAGE)
    body = json.loads(only_request(httpserver).get_data())
    assert before <= int(body["timestamp"]) <= int(time.time())
    assert body == {"timestamp": body["timestamp"], "sign": expected_feishu_sign(body["timestamp"], "fs-secret-1"),
                    "msg_type": "text", "content": {"text": CONTENT}}


def test_feishu_old_style_success_unsigned_and_refusal(ctx, httpserver):
    httpserver.expect_request("/hook/old").respond_with_json({"Extra": None, "StatusCode": 0,
                                                              "StatusMessage": "success"})
    bots.post("feishu", {"url": httpserver.url_for("/hook/old"), "secret": ""}, MESSAGE)
    assert json.loads(only_request(httpserver).get_data()) == {"msg_type": "text", "content": {"text": CONTENT}}
    httpserver.expect_request("/hook/bad").respond_with_json(
        {"code": 19021, "data": {}, "msg": "sign match fail or timestamp is not within one hour from current time"},
        status=400)
    with pytest.raises(ChannelError) as error:
        bots.post("feishu", {"url": httpserver.url_for("/hook/bad"), "secret": "x"}, MESSAGE)
    assert "sign match fail" in str(error.value) and "19021" in str(error.value)


def test_webhook_signs_the_raw_body(ctx, httpserver):
    httpserver.expect_request("/crm-events", method="POST").respond_with_data("", status=204)
    notification = Notification(kind="reminder", idempotency_key="reminder:activity:9:webhook")
    before = int(time.time())
    bots.post("webhook", {"url": httpserver.url_for("/crm-events"), "secret": "wh-secret"}, MESSAGE, notification)
    request = only_request(httpserver)
    raw = request.get_data()
    expected = hmac.new(b"wh-secret", raw, hashlib.sha256).hexdigest()
    assert request.headers["X-CRM-Signature"] == f"sha256={expected}"
    assert before <= int(request.headers["X-CRM-Timestamp"]) <= int(time.time())
    assert request.headers["Idempotency-Key"] == "reminder:activity:9:webhook"
    assert json.loads(raw) == {"subject": MESSAGE.subject, "text": MESSAGE.text, "kind": "reminder",
                               "id": "reminder:activity:9:webhook"}


def test_webhook_without_secret_and_its_refusal(ctx, httpserver):
    httpserver.expect_request("/crm-events").respond_with_json({"error": "unknown signature"}, status=401)
    with pytest.raises(ChannelError, match="Webhook answered HTTP 401: unknown signature"):
        bots.post("webhook", {"url": httpserver.url_for("/crm-events"), "secret": ""}, MESSAGE)
    assert "X-CRM-Signature" not in only_request(httpserver).headers


def test_a_bot_that_does_not_answer_in_time_is_an_error(ctx, httpserver, monkeypatch):
    monkeypatch.setattr(transport, "TIMEOUT", 0.5)
    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(1.5) or Response("{}"))
    with pytest.raises(ChannelError, match="did not answer within 0.5 s"):
        bots.post("wecom", {"url": httpserver.url_for("/slow")}, MESSAGE)
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:  # let the late answer land in this test's log
        time.sleep(0.05)


def test_unknown_bot_is_an_error(ctx):
    with pytest.raises(ChannelError, match="unknown bot channel"):
        bots.post("telegram", {"url": "https://example.com"}, MESSAGE)


def test_bot_settings_are_per_tenant_and_encrypted(app, acme, globex, in_tenant):
    url = "https://oapi.dingtalk.com/robot/send?access_token=tok-98765"
    assert in_tenant(acme, lambda: channel_settings.bot_config("dingtalk")) is None
    in_tenant(acme, lambda: channel_settings.save_bot("dingtalk", {"url": url, "secret": "SECabc123"}))
    assert in_tenant(acme, lambda: channel_settings.bot_config("dingtalk")) == {"url": url, "secret": "SECabc123"}
    assert in_tenant(acme, lambda: channel_settings.bot_config("feishu")) is None
    assert in_tenant(globex, lambda: channel_settings.bot_config("dingtalk")) is None
    with app.app_context(), db.engine.connect() as connection:
        row = connection.execute(text(f"select value::text from t_{acme.id}.settings where key = 'bot_dingtalk'"))
        stored = row.scalar()
    assert "tok-98765" not in stored and "SECabc123" not in stored and "oapi.dingtalk.com" not in stored
    # Saving again with the fields empty keeps both; switching off forgets them.
    in_tenant(acme, lambda: channel_settings.save_bot("dingtalk", {"url": "", "secret": ""}))
    assert in_tenant(acme, lambda: channel_settings.bot_config("dingtalk")) == {"url": url, "secret": "SECabc123"}
    in_tenant(acme, lambda: channel_settings.save_bot("dingtalk", {"remove": True}))
    assert in_tenant(acme, lambda: channel_settings.bot_config("dingtalk")) is None


def test_bot_message_from_the_outbox_reaches_the_group_once(app, acme, in_tenant, httpserver, run_worker,
                                                             outbox_rows):
    from crm.notify import outbox

    httpserver.expect_request("/cgi-bin/webhook/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    in_tenant(acme, lambda: channel_settings.save_bot("wecom", {"url": httpserver.url_for("/cgi-bin/webhook/send?key=k1")}))
    in_tenant(acme, lambda: outbox.schedule(
        channel="wecom", kind="reminder", recipient="group", key="reminder:test-bot:1",
        payload={"method": "Visit", "customer": "Li Na", "due": "14:00", "summary": "Bring samples", "link": ""}))
    run_worker()
    run_worker()
    body = json.loads(only_request(httpserver).get_data())
    assert body == {"msgtype": "text", "text": {"content": "Reminder: Visit Li Na\nVisit Li Na at 14:00.\n"
                                                           "Bring samples"}}
    assert urlsplit(httpserver.log[0][0].url).query == "key=k1"
    assert outbox_rows(acme, idempotency_key="reminder:test-bot:1")[0][2] == "sent"
