"""The shared field cleaners: what each keeps, what each refuses and the message shown at the field; and that a
NUL byte or a year-1 date typed into a form is a 422 at the field, never a 500."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm import validation
from crm.errors import Invalid
from crm.members.models import Member
from tests.conftest import HX


def refusal(clean, *args, **kwargs) -> dict:
    with pytest.raises(Invalid) as refused:
        clean(*args, **kwargs)
    return refused.value.errors


@pytest.mark.parametrize("value, expected", [("7", 7), (42, 42), (str(2**31 - 1), 2**31 - 1), (str(2**31), None),
                                             ("0", None), ("-3", None), ("1.5", None), ("", None), (None, None),
                                             ("12abc", None), ("²", None), ("9" * 5000, None)])
def test_record_id_is_a_positive_postgresql_integer(value, expected):
    assert validation.record_id(value) == expected


def test_text_trims_and_keeps_line_breaks(ctx):
    assert validation.text("  Wang Fang  ", "name", 120) == "Wang Fang"
    assert validation.text("line one\r\nline two\tend", "notes", 5000) == "line one\r\nline two\tend"
    assert validation.text("   ", "notes", 5000) is None and validation.text(None, "notes", 5000) is None


def test_text_refuses_too_long_missing_and_control_characters(ctx):
    assert refusal(validation.text, "x" * 121, "name", 120) == {"name": "Use at most 120 characters."}
    assert refusal(validation.text, " ", "title", 200, required=True) == {"title": "This field is required."}
    assert refusal(validation.text, "", "name", 120, required="Name is required.") == {"name": "Name is required."}
    for bad in ("Wang\x00Fang", "bell\x07", "escape\x1b[0m", "delete\x7f"):
        assert refusal(validation.text, bad, "notes", 5000) == {
            "notes": "Remove the invisible control characters from this text."}


def test_collect_gathers_every_problem(ctx):
    errors = {}
    assert validation.collect(errors, validation.text, "ok", "name", 10) == "ok"
    assert validation.collect(errors, validation.text, "", "name", 10, required=True) is None
    assert validation.collect(errors, validation.percent, "200", "probability") is None
    assert errors == {"name": "This field is required.", "probability": "Enter a whole number from 0 to 100."}


def test_clipped_text_drops_control_characters():
    assert validation.clipped(" 王\x00伟 ", 100) == "王伟" and validation.clipped("x" * 300, 100) == "x" * 100
    assert validation.clipped(None, 100) == ""


def test_choice(ctx):
    assert validation.choice("B", "level", ("A", "B")) == "B"
    assert validation.choice("", "stage", ("lead", "customer"), default="lead") == "lead"
    assert validation.choice("", "level", ("A", "B"), optional=True) is None
    assert refusal(validation.choice, "Z", "level", ("A", "B")) == {"level": "Choose one of the listed values."}
    assert refusal(validation.choice, None, "kind", ("open",)) == {"kind": "Choose one of the listed values."}


def test_day_reads_iso_dates_within_range(ctx):
    assert validation.day("2026-03-31", "due") == date(2026, 3, 31)
    assert validation.day(" ", "due") is None and validation.day("9999-12-31", "due") == date(9999, 12, 31)
    assert refusal(validation.day, "2026-02-30", "due") == {"due": "Enter a valid date."}
    assert refusal(validation.day, "31/12/2026", "due") == {"due": "Enter a valid date."}
    assert refusal(validation.day, "0001-01-01", "due") == {"due": "Enter a date between 1900 and 9999."}
    assert refusal(validation.day, "1899-12-31", "due") == {"due": "Enter a date between 1900 and 9999."}
    assert refusal(validation.day, "1999-12-31", "delivery_date", date(2000, 1, 1), date(2999, 12, 31)) == {
        "delivery_date": "Enter a date between 2000 and 2999."}


def test_or_none_ignores_a_refused_filter(ctx):
    assert validation.or_none(validation.day, "2026-01-02", "since") == date(2026, 1, 2)
    assert validation.or_none(validation.day, "0001-01-01", "since") is None
    assert validation.or_none(validation.day, "soon", "since") is None


def test_local_datetime_is_read_in_the_viewers_zone(ctx):
    # The default zone is Asia/Shanghai (UTC+8).
    assert validation.local_datetime("2031-05-06T09:30", "due_at") == datetime(2031, 5, 6, 1, 30, tzinfo=UTC)
    assert validation.local_datetime("2031-05-06T09:30:45", "due_at") == datetime(2031, 5, 6, 1, 30, tzinfo=UTC)
    assert validation.local_datetime("", "due_at") is None
    assert validation.local_input(datetime(2031, 5, 6, 1, 30, tzinfo=UTC)) == "2031-05-06T09:30"
    assert validation.wall_clock("2031-05-06T09:30:45", "at") == datetime(2031, 5, 6, 9, 30)


def test_local_datetime_refuses_nonsense_and_years_out_of_range(ctx):
    assert refusal(validation.local_datetime, "tomorrow", "due_at") == {"due_at": "Enter a date and time."}
    assert refusal(validation.local_datetime, "2026-13-45T99:00", "due_at") == {"due_at": "Enter a date and time."}
    assert refusal(validation.local_datetime, "0001-01-01T00:00", "due_at") == {
        "due_at": "Enter a date between 1900 and 9999."}
    assert refusal(validation.local_datetime, "1899-12-31T23:59", "due_at") == {
        "due_at": "Enter a date between 1900 and 9999."}
    assert refusal(validation.local_datetime, "9999-12-31T23:59-05:00", "due_at") == {  # past year 9999 in UTC
        "due_at": "Enter a date between 1900 and 9999."}


@pytest.mark.parametrize("typed, expected", [("19.99", Decimal("19.99")), ("12,500.5", Decimal("12500.50")),
                                              ("12，500", Decimal("12500.00")), (" 7 ", Decimal("7.00")),
                                              (".5", Decimal("0.50")), ("0", Decimal("0.00")),
                                              ("999999999999.99", Decimal("999999999999.99"))])
def test_money_reads_amounts_as_people_type_them(ctx, typed, expected):
    assert validation.money(typed, "price") == expected


def test_money_refusals(ctx):
    format_message = {"price": "Enter an amount like 19.99 (at most two decimals)."}
    for bad in ("1.999", "abc", "-3", "1e3", "12.5.0", "NaN"):
        assert refusal(validation.money, bad, "price") == format_message, bad
    assert refusal(validation.money, "1000000000000", "price") == {"price": "This amount is too large."}
    assert refusal(validation.money, "", "price", required=True) == {"price": "Enter an amount."}
    assert validation.money("", "price") is None


def test_money_below_zero_only_when_asked(ctx):
    assert validation.money("-1,000.5", "balance", negative=True) == Decimal("-1000.50")
    assert refusal(validation.money, "50", "balance", maximum=Decimal("10")) == {"balance": "This amount is too large."}


def test_currency(ctx):
    assert validation.currency(" usd ", "currency") == "USD"
    assert validation.currency("", "currency", default="CNY") == "CNY"
    for bad in ("XYZ1", "", "ZZZ"):
        assert refusal(validation.currency, bad, "currency") == {
            "currency": "Enter a currency code such as CNY, USD or EUR."}


def test_whole_number_and_percent(ctx):
    assert validation.whole_number(" 30 ", "days", 1, 3650) == 30
    assert validation.whole_number("", "days", 1, 3650, required=False) is None
    for bad in ("0", "3651", "1.5", "-3", "", "ten", "²", "9" * 5000):
        assert refusal(validation.whole_number, bad, "days", 1, 3650) == {
            "days": "Enter a whole number from 1 to 3650."}, bad
    assert validation.percent("50%", "probability") == 50 and validation.percent("", "probability") is None
    assert validation.percent(0, "probability") == 0
    for bad in ("101", "50.5", "-1"):
        assert refusal(validation.percent, bad, "probability") == {
            "probability": "Enter a whole number from 0 to 100."}
    assert refusal(validation.percent, "", "probability", required=True) == {
        "probability": "Enter a whole number from 0 to 100."}


def test_plain_number():
    assert validation.plain_number("1 000.125", 3) == Decimal("1000.125")
    assert validation.plain_number("1.1234", 3) is None and validation.plain_number("-1", 3) is None


def test_phone_in_the_region_given(ctx):
    assert validation.phone("138 0013 8000", "CN") == "+8613800138000"
    assert validation.phone("+1 415 555 0100", "CN") == "+14155550100"
    assert validation.phone("(415) 555-0100", "US") == "+14155550100"
    assert validation.phone("", "CN") is None
    message = "Enter a valid phone number, e.g. 131 2345 6789, or one starting with + and its country code."
    assert refusal(validation.phone, "12", "CN") == {"phone": message}
    assert refusal(validation.phone, "138\x000013 8000", "CN", "custom_mobile") == {"custom_mobile": message}
    assert refusal(validation.phone, "12", "GB")["phone"].startswith("Enter a valid phone number, e.g. 07400 123456,")


def test_email_is_checked_and_lower_cased(ctx):
    assert validation.normalise_email(" Wang@Example.COM ") == "wang@example.com"
    assert validation.normalise_email("") is None
    for bad in ("not-an-email", "broken@", "a\x00b@example.com"):
        assert refusal(validation.normalise_email, bad) == {"email": "Enter a valid email address."}
    assert refusal(validation.normalise_email, "nope", "reply_to") == {"reply_to": "Enter a valid email address."}
    assert refusal(validation.normalise_email, " ", required=True) == {"email": "Enter a valid email address."}


def test_plain_phones_and_emails_read_as_the_libraries_read_them(ctx):
    """The import's fast paths (no phonenumbers / email-validator call) give what those libraries give, and
    leave everything else to them."""
    import phonenumbers
    from email_validator import validate_email

    for typed, region in (("13800138000", "CN"), ("+86 138-0013-8000", "CN"), ("+8619912345678", "CN"),
                          ("4155550100", "US"), ("+1 415 555 0100", "US"), ("07400 123456", "GB")):
        parsed = phonenumbers.format_number(phonenumbers.parse(typed, region), phonenumbers.PhoneNumberFormat.E164)
        assert validation.phone(typed, region) == parsed
    for not_plain in ("12", "010 1234 5678", "+1 415 555 0100", "１３８００１３８０００", "8613800138000", "1380013800"):
        assert validation._plain_mobile(not_plain, "CN") is None
    for typed in ("Wang.Fang+crm@QQ.com", "li_9@mail.163.com", "a@b.co"):
        assert validation.normalise_email(typed) == validate_email(typed, check_deliverability=False).normalized.lower()
    for not_plain in ("a@b.local", "a..b@x.com", "a@xn--fiqs8s.cn", "王@例子.中国", "a@-b.com", "a@b.c1", "x" * 65 + "@a.com"):
        assert not validation._plain_email(not_plain)
    assert refusal(validation.normalise_email, "a@b.local") == {"email": "Enter a valid email address."}


def test_owner_is_an_active_member(acme, add_member, in_tenant):
    from crm.extensions import db

    _account, rep = add_member(acme)

    def check():
        assert validation.owner(str(rep)) == rep and validation.owner("") is None and validation.owner(None) is None
        db.session.get(Member, rep).active = False
        db.session.flush()
        for gone in (str(rep), "999999", str(2**31), "abc"):
            assert refusal(validation.owner, gone) == {"owner_id": "Choose an active member."}, gone

    in_tenant(acme, check)


# A NUL never reaches a view (the input layer answers 400, tests/test_hostile.py); the fields refuse the other
# control characters, and the services refuse a NUL too, for what does not come through a request.
def test_a_control_character_in_the_customer_form_is_refused_at_the_field(acme, admin):
    page = admin.post(f"/{acme.slug}/customers/", headers=HX,
                      data={"name": "Wang\x01Fang", "notes": "Called\x1btwice", "company": "Acme"})
    assert page.status_code == 422
    message = "Remove the invisible control characters from this text."
    assert f'id="name-error">{message}' in page.text and f'id="notes-error">{message}' in page.text
    assert 'id="company-error"' not in page.text


def test_a_control_character_in_a_custom_text_field_or_a_search_is_no_error_page(acme, admin):
    assert admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": "Nickname", "type": "text"}).status_code == 303
    page = admin.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "Wang Fang", "custom_nickname": "W\x01F"})
    assert page.status_code == 422 and "Remove the invisible control characters from this text." in page.text
    assert admin.get(f"/{acme.slug}/customers/?q=Wang%01", headers=HX).status_code == 200
    assert admin.get(f"/{acme.slug}/customers/choices?customer_q=Wang%01", headers=HX).status_code == 200


def test_a_follow_up_due_in_year_one_is_refused_at_the_field(acme, admin, make_customer):
    customer = make_customer(acme, name="Wang Fang")
    page = admin.post(f"/{acme.slug}/activities/", headers=HX, data={
        "mode": "plan", "customer_id": customer, "method": "call", "summary": "Call back", "due_at": "0001-01-01T10:00",
        "remind_minutes": ""})
    assert page.status_code == 422
    assert 'id="due_at-error">Enter a date between 1900 and 9999.' in page.text


def test_a_control_character_in_the_messaging_settings_or_a_nul_in_a_template_is_refused_at_the_field(
        acme, admin, in_tenant):
    from crm.notify import service as notify
    from crm.settings import get_setting

    page = admin.post(f"/{acme.slug}/settings/messaging/email", headers=HX, data={"email-sender_name": "Acme\x01"})
    assert page.status_code == 422 and "Remove the invisible control characters from this text." in page.text
    assert in_tenant(acme, lambda: get_setting("email")) is None
    refused = in_tenant(acme, lambda: refusal(notify.save_template, "reminder", "en", "Hi", "{{ customer }}\x00"))
    assert refused == {"body": "Remove the invisible control characters from this text."}


def test_a_control_character_at_sign_up_or_sign_in_is_no_error_page(app):
    client = app.test_client()
    signup = client.post("/signup", data={"company": "Acme\x01", "slug": "nul-acme", "name": "Ada",
                                          "email": "ada@nul.example", "password": "password-123"})
    assert signup.status_code == 422 and "Remove the invisible control characters from this text." in signup.text
    login = client.post("/login", data={"email": "ada\x01@nul.example", "password": "password-123"})
    assert login.status_code == 422 and "Wrong email or password." in login.text
