"""SMS adapters against a real local HTTP server (pytest-httpserver): the exact request each provider gets
(address, auth, body, Aliyun's signature recomputed from the received query), success, the provider's
refusals and timeouts as ChannelError, and the tenant's settings stored encrypted."""
import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote_plus

import pytest
from sqlalchemy import text
from werkzeug import Response

from crm.extensions import db
from crm.notify import channel_settings, sms, transport
from crm.notify.models import Notification
from crm.notify.transport import ChannelError

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-token-Zq81xw"
ALIYUN_SECRET = "aliyun-secret-Pd93kq"


def note(kind="reminder", key="reminder:activity:7:sms", payload=None):
    """An outbox row as the send job hands it to a channel (not saved)."""
    return Notification(channel="sms", kind=kind, recipient="+8613800138000", idempotency_key=key,
                        payload=payload if payload is not None else {"customer": "王芳", "due": "09:30"},
                        language="zh")


def only_request(httpserver):
    assert len(httpserver.log) == 1, httpserver.log
    return httpserver.log[0][0]


# --- the generic HTTP provider -------------------------------------------------------------------------------

def test_http_provider_posts_json_with_auth_and_idempotency_key(ctx, httpserver):
    httpserver.expect_request("/v1/sms", method="POST").respond_with_json({"id": "msg-42"}, status=201)
    provider = sms.provider({"provider": "http", "url": httpserver.url_for("/v1/sms"),
                             "auth_header": "Authorization", "auth_value": "Bearer s3cret-token"})
    assert provider.send("+8613800138000", "明天 9:30 回访王芳", note()) == "msg-42"
    request = only_request(httpserver)
    assert request.headers["Authorization"] == "Bearer s3cret-token"
    assert request.headers["Idempotency-Key"] == "reminder:activity:7:sms"
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.get_data()) == {"to": "+8613800138000", "text": "明天 9:30 回访王芳",
                                              "reference": "reminder:activity:7:sms"}


def test_http_provider_custom_header_and_no_auth(ctx, httpserver):
    httpserver.expect_request("/send").respond_with_data("queued")
    sent = sms.provider({"provider": "http", "url": httpserver.url_for("/send"), "auth_header": "X-Api-Key",
                         "auth_value": "k-123"}).send("+14155550100", "Hi", note())
    assert sent == ""  # a 2xx without an id is still success
    assert only_request(httpserver).headers["X-Api-Key"] == "k-123"
    httpserver.clear_log()
    sms.provider({"provider": "http", "url": httpserver.url_for("/send")}).send("+14155550100", "Hi", note())
    assert "Authorization" not in only_request(httpserver).headers


def test_http_provider_error_carries_the_providers_message(ctx, httpserver):
    httpserver.expect_request("/v1/sms").respond_with_json({"message": "quota exceeded for today"}, status=429)
    with pytest.raises(ChannelError, match=r"HTTP 429: quota exceeded for today"):
        sms.provider({"provider": "http", "url": httpserver.url_for("/v1/sms")}).send("+14155550100", "x", note())
    httpserver.clear_all_handlers()
    httpserver.expect_request("/v1/sms").respond_with_data("<h1>Bad Gateway</h1>", status=502)
    with pytest.raises(ChannelError, match=r"HTTP 502: <h1>Bad Gateway</h1>"):
        sms.provider({"provider": "http", "url": httpserver.url_for("/v1/sms")}).send("+14155550100", "x", note())


def test_a_provider_that_does_not_answer_in_time_is_an_error(ctx, httpserver, monkeypatch):
    assert transport.TIMEOUT == 10
    monkeypatch.setattr(transport, "TIMEOUT", 0.5)
    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(1.5) or Response("late"))
    started = time.monotonic()
    with pytest.raises(ChannelError, match=r"did not answer within 0.5 s"):
        sms.provider({"provider": "http", "url": httpserver.url_for("/slow")}).send("+14155550100", "x", note())
    assert time.monotonic() - started < 1.4
    wait_for_log(httpserver)  # the late answer is logged before the next test starts


def wait_for_log(httpserver, count=1):
    deadline = time.monotonic() + 5
    while len(httpserver.log) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_unreachable_provider_and_redirects_are_errors(ctx, httpserver):
    from tests.conftest import free_port

    with pytest.raises(ChannelError, match="cannot be reached"):
        sms.provider({"provider": "http", "url": f"http://127.0.0.1:{free_port()}/sms"}).send("+1415555", "x", note())
    httpserver.expect_request("/moved").respond_with_data("", status=302, headers={"Location": "/elsewhere"})
    httpserver.expect_request("/elsewhere").respond_with_json({"id": "wrong"})
    with pytest.raises(ChannelError, match="HTTP 302"):
        sms.provider({"provider": "http", "url": httpserver.url_for("/moved")}).send("+14155550100", "x", note())
    assert [entry[0].path for entry in httpserver.log] == ["/moved"]  # never re-sent somewhere else


def test_production_refuses_private_addresses(app, ctx, httpserver, monkeypatch):
    monkeypatch.setitem(app.config, "ENV", "production")
    httpserver.expect_request("/v1/sms").respond_with_json({"id": "x"})
    with pytest.raises(ChannelError, match="private address"):
        sms.provider({"provider": "http", "url": httpserver.url_for("/v1/sms")}).send("+14155550100", "x", note())
    assert httpserver.log == []
    monkeypatch.setitem(app.config, "MESSAGING_PRIVATE_HOSTS", True)  # an operator's explicit choice
    assert sms.provider({"provider": "http", "url": httpserver.url_for("/v1/sms")}).send("+1415", "x", note()) == "x"


# --- Twilio ------------------------------------------------------------------------------------------------

def twilio(httpserver, sender="+14155550100"):
    return sms.provider({"provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
                         "sender": sender, "base_url": httpserver.url_for("/").rstrip("/")})


def test_twilio_posts_the_form_with_basic_auth(ctx, httpserver):
    path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    httpserver.expect_request(path, method="POST").respond_with_json(
        {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}, status=201)
    assert twilio(httpserver).send("+8613800138000", "Reminder: call 王芳", note()) == \
        "SM0123456789abcdef0123456789abcdef"
    request = only_request(httpserver)
    expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form.to_dict() == {"To": "+8613800138000", "From": "+14155550100", "Body": "Reminder: call 王芳"}


def test_twilio_messaging_service_sender(ctx, httpserver):
    httpserver.expect_request(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json").respond_with_json({"sid": "SM1"})
    twilio(httpserver, sender="MG" + "ab" * 16).send("+14155550101", "Hi", note())
    assert only_request(httpserver).form["MessagingServiceSid"] == "MG" + "ab" * 16
    assert "From" not in only_request(httpserver).form


def test_twilio_refusal_carries_its_message_and_code(ctx, httpserver):
    httpserver.expect_request(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json").respond_with_json(
        {"code": 21211, "message": "The 'To' number +861 is not a valid phone number.",
         "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}, status=400)
    with pytest.raises(ChannelError) as error:
        twilio(httpserver).send("+861", "Hi", note())
    assert "The 'To' number +861 is not a valid phone number." in str(error.value)
    assert "21211" in str(error.value) and "HTTP 400" in str(error.value)


# --- Aliyun ------------------------------------------------------------------------------------------------

def alibaba_encode(value: str) -> str:
    """Alibaba's documented recipe: URL-encode (UTF-8), then '+' -> %20, '*' -> %2A, %7E -> '~'."""
    return quote_plus(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def expected_aliyun_signature(params: dict, secret: str) -> str:
    query = "&".join(f"{alibaba_encode(k)}={alibaba_encode(params[k])}" for k in sorted(params))
    to_sign = "GET&" + alibaba_encode("/") + "&" + alibaba_encode(query)
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def aliyun(httpserver, templates=None):
    return sms.provider({"provider": "aliyun", "access_key_id": "LTAI5tTestKey01", "access_key_secret": ALIYUN_SECRET,
                         "sign_name": "阿里云短信测试", "region": "", "endpoint": httpserver.url_for("/").rstrip("/"),
                         "templates": templates if templates is not None else
                         {"reminder": "SMS_154950909", "default": "SMS_100000001"}})


def test_aliyun_sendsms_request_is_signed_as_alibaba_documents(ctx, httpserver):
    httpserver.expect_request("/", method="GET").respond_with_json(
        {"Message": "OK", "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990", "BizId": "900619746936498440^0",
         "Code": "OK"})
    payload = {"customer": "王芳 & Co", "due": "09:30*"}
    assert aliyun(httpserver).send("+8613800138000", "ignored: Aliyun sends the template",
                                   note(payload=payload)) == "900619746936498440^0"
    params = dict(parse_qsl(only_request(httpserver).query_string.decode(), keep_blank_values=True))
    signature = params.pop("Signature")
    assert signature == expected_aliyun_signature(params, ALIYUN_SECRET)
    assert {k: params[k] for k in ("AccessKeyId", "Action", "Format", "PhoneNumbers", "RegionId", "SignName",
                                   "SignatureMethod", "SignatureVersion", "TemplateCode", "Version", "OutId")} == {
        "AccessKeyId": "LTAI5tTestKey01", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": "13800138000",
        "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试", "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0", "TemplateCode": "SMS_154950909", "Version": "2017-05-25",
        "OutId": "reminder:activity:7:sms"}
    assert json.loads(params["TemplateParam"]) == payload
    sent_at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(sent_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert len(params["SignatureNonce"]) >= 16
    # The signature covers every parameter: a changed value no longer matches.
    assert signature != expected_aliyun_signature({**params, "PhoneNumbers": "13800138001"}, ALIYUN_SECRET)


def test_aliyun_kind_without_template_uses_the_default_and_foreign_numbers_keep_the_country_code(ctx, httpserver):
    httpserver.expect_request("/").respond_with_json({"Code": "OK", "Message": "OK", "BizId": "1^0"})
    aliyun(httpserver).send("+85291234567", "x", note(kind="order_status"))
    params = dict(parse_qsl(only_request(httpserver).query_string.decode()))
    assert params["TemplateCode"] == "SMS_100000001" and params["PhoneNumbers"] == "85291234567"
    with pytest.raises(ChannelError, match="no Aliyun template code for campaign"):
        aliyun(httpserver, templates={"reminder": "SMS_1"}).send("+8613800138000", "x", note(kind="campaign"))


def test_aliyun_refusal_carries_code_and_message(ctx, httpserver):
    httpserver.expect_request("/").respond_with_json(
        {"Message": "触发分钟级流控Permits:1", "RequestId": "A1", "Code": "isv.BUSINESS_LIMIT_CONTROL"})
    with pytest.raises(ChannelError) as error:
        aliyun(httpserver).send("+8613800138000", "x", note())
    assert "触发分钟级流控Permits:1" in str(error.value) and "isv.BUSINESS_LIMIT_CONTROL" in str(error.value)
    httpserver.clear_all_handlers()
    httpserver.expect_request("/").respond_with_json(
        {"Message": "Specified signature is not matched with our calculation.", "Code": "SignatureDoesNotMatch"},
        status=400)
    with pytest.raises(ChannelError, match="SignatureDoesNotMatch"):
        aliyun(httpserver).send("+8613800138000", "x", note())


def test_unknown_provider_is_an_error(ctx):
    with pytest.raises(ChannelError, match="unknown SMS provider"):
        sms.provider({"provider": "carrier-pigeon"})


# --- the tenant's settings -----------------------------------------------------------------------------------

def test_tenant_config_is_none_until_set_up_then_decrypted_and_stored_encrypted(app, acme, globex, in_tenant,
                                                                               field_keys):
    assert in_tenant(acme, channel_settings.sms_config) is None
    in_tenant(acme, lambda: channel_settings.save_sms({"provider": "twilio", "account_sid": TWILIO_SID,
                                             "auth_token": TWILIO_TOKEN, "sender": "+1 415 555 0100"}))
    saved = in_tenant(acme, channel_settings.sms_config)
    assert saved == {"provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
                     "sender": "+14155550100", "base_url": ""}
    assert in_tenant(globex, channel_settings.sms_config) is None
    with app.app_context(), db.engine.connect() as connection:
        row = connection.execute(text(f"select value::text from t_{acme.id}.settings where key = 'sms'")).scalar()
    assert TWILIO_SID in row and TWILIO_TOKEN not in row
    # Copied into another tenant, the token does not decrypt there.
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(f"insert into t_{globex.id}.settings (key, value) "
                                f"select key, value from t_{acme.id}.settings where key = 'sms'"))
    with pytest.raises(ChannelError, match="cannot be decrypted"):
        in_tenant(globex, channel_settings.sms_config)
    # A key rotation leaves that tenant as it is, says so, and goes on with the others.
    field_keys("new", "dev")
    result = app.test_cli_runner().invoke(args=["tenants", "rotate-keys"])
    assert result.exit_code == 1 and f"t_{globex.id}" in result.output.split("cannot be re-encrypted: ")[-1]
    assert re.search(rf"t_{globex.id}\s+FAILED a value does not decrypt", result.output)
    assert re.search(rf"t_{acme.id}\s+\d+ values re-encrypted", result.output)
    with app.app_context(), db.engine.begin() as connection:  # a later key rotation must read every tenant again
        connection.execute(text(f"delete from t_{globex.id}.settings where key = 'sms'"))


def test_sms_from_the_outbox_reaches_the_provider_once(app, acme, in_tenant, httpserver, run_worker, outbox_rows):
    from crm.notify import outbox

    httpserver.expect_request("/sms", method="POST").respond_with_json({"id": "p-1"})
    in_tenant(acme, lambda: channel_settings.save_sms({"provider": "http", "url": httpserver.url_for("/sms"),
                                             "auth_value": "Bearer t0ken"}))
    in_tenant(acme, lambda: outbox.schedule(
        channel="sms", kind="reminder", recipient="+8613800138000", key="reminder:test-sms:1",
        payload={"method": "Call", "customer": "Zhao Lei", "due": "10:00", "summary": "Quote", "link": ""}))
    run_worker()
    run_worker()
    request = only_request(httpserver)
    assert json.loads(request.get_data()) == {"to": "+8613800138000", "reference": "reminder:test-sms:1",
                                              "text": "Call Zhao Lei at 10:00.\nQuote\n"}
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert outbox_rows(acme, idempotency_key="reminder:test-sms:1")[0][2] == "sent"


def test_a_refused_sms_is_retried_with_the_providers_error_shown(app, acme, in_tenant, httpserver, run_worker,
                                                                 outbox_rows):
    from crm.notify import outbox

    httpserver.expect_request("/sms").respond_with_json({"error": "number blocked"}, status=400)
    in_tenant(acme, lambda: channel_settings.save_sms({"provider": "http", "url": httpserver.url_for("/sms")}))
    in_tenant(acme, lambda: outbox.schedule(channel="sms", kind="reminder", recipient="+8613800138000",
                                            key="reminder:test-sms:2", payload={}))
    run_worker()
    _channel, _kind, status, attempts, _to, error = outbox_rows(acme, idempotency_key="reminder:test-sms:2")[0]
    assert (status, attempts) == ("scheduled", 1)
    assert "HTTP 400: number blocked" in error
