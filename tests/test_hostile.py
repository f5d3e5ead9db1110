"""Hostile input (issue 11): redirects that stay on this site, a NUL refused at the door, ids and dates out of
range refused at the field, fragments opened as pages, counts that follow the viewer's scope; then a walk of
every route with hostile values in each path and query parameter and form field, which finds no 500."""
import logging
import re
import time
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import ImmutableMultiDict

from crm.customers.models import Customer, Tag
from crm.deals.models import Deal
from crm.extensions import db
from crm.followups.models import Activity
from crm.web import local_path
from tenants.binding import tenant_bound
from tests import routes
from tests.conftest import HX

OFFSITE = ["/\t/evil.test", "/\n/evil.test", "/\r\n/evil.test", "/\\evil.test", "/\t\\evil.test", "//evil.test",
           "https://evil.test/", "javascript:alert(1)", " //evil.test", "/\x7f/evil.test", "/\x85/evil.test",
           "/" + "a" * 3000]


@pytest.mark.parametrize("target", OFFSITE)
def test_a_redirect_target_with_control_characters_backslashes_or_another_host_is_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/acme/customers/", "/acme/customers/?q=a//b&tag=3", "/acme/customers/?q=张伟"])
def test_a_path_on_this_site_is_kept(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test", "/\t/evil.test"])
def test_every_redirect_after_a_write_goes_only_to_this_site(app, target):
    from crm.web import see_other

    with app.test_request_context("/"):
        assert see_other(target).headers["Location"] == "/"
    with app.test_request_context("/", headers=HX):
        assert see_other(target).headers["HX-Location"] == "/"


@pytest.mark.parametrize("target", ["/%09/evil.test", "/%0d%0a/evil.test", "/%5c%09/evil.test", "/a%0d%0ab"])
def test_signing_in_with_a_hostile_next_stays_on_this_site(app, acme, target):
    answer = app.test_client().post(f"/login?next={target}", data={"email": f"admin@{acme.slug}.example",
                                                                   "password": "password-123"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.test", "/a\r\nb", "/\\evil.test"])
def test_the_language_switch_and_follow_ups_go_back_only_to_this_site(acme, admin, target):
    language = admin.post("/language", data={"language": "zh", "next": target})
    assert language.status_code == 303 and language.headers["Location"] == "/"
    digest = admin.post(f"/{acme.slug}/activities/digest", data={"wanted": "1", "next": target})
    assert digest.status_code == 303 and digest.headers["Location"] == f"/{acme.slug}/activities/"
    htmx = admin.post(f"/{acme.slug}/activities/digest", headers=HX, data={"wanted": "0", "next": target})
    assert htmx.status_code == 204 and htmx.headers["HX-Location"] == f"/{acme.slug}/activities/"


def test_going_back_to_a_filtered_list_keeps_its_filters_and_nothing_else(acme, admin, tagged, in_tenant):
    doomed = tagged(acme, ["VIP", "Gold"])
    vip, gold = in_tenant(acme, lambda: [db.session.scalar(select(Tag.id).where(Tag.name == name))
                                         for name in ("VIP", "Gold")])
    hostile = "endpoint=x&message=x&_external=1&_scheme=javascript&_anchor=x&slug=other"
    bulk = admin.post(f"/{acme.slug}/customers/bulk?{hostile}&tag={vip}&tag={gold}",
                      data={"action": "delete", "ids": [doomed]})
    assert bulk.status_code == 303
    back = urlsplit(bulk.headers["Location"])
    assert back.path == f"/{acme.slug}/customers/" and not back.fragment
    assert parse_qs(back.query) == {"tag": [str(vip), str(gold)], "tag_mode": ["all"]}
    claim = admin.post(f"/{acme.slug}/pool/claim?{hostile}&level=A", data={"ids": [doomed]})
    assert claim.status_code == 303 and claim.headers["Location"] == f"/{acme.slug}/pool/?level=A"


def test_a_nul_byte_anywhere_in_a_request_is_a_clear_400_page(acme, admin, make_customer, in_tenant):
    make_customer(acme, name="Kept")
    for url in (f"/{acme.slug}/customers/?q=%00", f"/{acme.slug}/campaigns/audience?q=%00",
                f"/{acme.slug}/customers/?tag%00=1", "/%00/customers/"):
        page = admin.get(url, headers=HX)
        assert page.status_code == 400, url
        assert "This request could not be read" in page.text
    page = admin.post(f"/{acme.slug}/customers/", data={"name": "Nul\x00Name"})
    assert page.status_code == 400 and "<html" in page.text and "check what was typed or pasted" in page.text
    names = in_tenant(acme, lambda: db.session.scalars(select(Customer.name)).all())
    assert names == ["Kept"]


def test_a_lone_surrogate_is_refused_and_an_encoded_one_stays_text(app, acme, admin, in_tenant):
    from werkzeug.exceptions import BadRequest

    from crm.web import refuse_unreadable

    with app.test_request_context("/"), pytest.raises(BadRequest):
        refuse_unreadable("customers.show", {"name": "\ud800"})
    # From the wire Werkzeug keeps bytes that are no UTF-8 (a surrogate's among them) as the text typed.
    assert admin.get(f"/{acme.slug}/customers/?q=%ED%A0%80", headers=HX).status_code == 200
    form = admin.post(f"/{acme.slug}/tags/", data=b"name=%ED%A0%80&color=red",
                      content_type="application/x-www-form-urlencoded")
    assert form.status_code == 303
    assert in_tenant(acme, lambda: db.session.scalars(select(Tag.name)).all()) == ["%ED%A0%80"]


def _follow_up(client, tenant, **fields):
    return client.post(f"/{tenant.slug}/activities/", data={
        "mode": "plan", "method": "call", "summary": "Call back", "due_at": "2030-01-02T10:00",
        "owner_id": str(tenant.admin_member_id), **fields})


def _activities(in_tenant, tenant) -> int:
    return in_tenant(tenant, lambda: db.session.scalar(select(func.count()).select_from(Activity)))


@pytest.mark.parametrize("field", ["customer_id", "deal_id"])
@pytest.mark.parametrize("value", ["2147483648", "9999999999999999999", "-1", "1e3"])
def test_an_id_past_the_database_range_is_not_found_and_nothing_is_saved(acme, admin, make_customer, in_tenant,
                                                                        field, value):
    customer_id = make_customer(acme, name="Real")
    fields = {"customer_id": str(customer_id), field: value}
    assert _follow_up(admin, acme, **fields).status_code == 404
    assert admin.post(f"/{acme.slug}/activities/notes", data={**fields, "text": "Hello"}).status_code == 404
    assert _activities(in_tenant, acme) == 0


def test_a_year_one_date_is_a_message_at_the_field(acme, admin, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Real")
    answer = _follow_up(admin, acme, customer_id=str(customer_id), due_at="0001-01-01T00:00")
    assert answer.status_code == 422 and "Enter a date between 1900 and 9999." in answer.text
    assert _activities(in_tenant, acme) == 0
    campaign = admin.post(f"/{acme.slug}/campaigns/", headers=HX, data={
        "name": "Spring", "channel": "email", "language": "en", "subject": "Hi", "body": "Hello",
        "send_at": "0001-01-01T00:00", "action": "send"})
    assert campaign.status_code == 422 and "Enter a date between 1900 and 9999." in campaign.text


def test_a_fragment_opened_as_a_page_goes_to_its_page(acme, admin, make_customer):
    made = admin.post(f"/{acme.slug}/campaigns/", data={
        "name": "Spring", "channel": "email", "language": "en", "subject": "Hi", "body": "Hello", "action": "save"})
    page = made.headers["Location"]
    opened = admin.get(f"{page}/progress")
    assert opened.status_code == 303 and opened.headers["Location"] == page
    assert 'id="progress"' in admin.get(f"{page}/progress", headers=HX).text
    customer_id = make_customer(acme, name="Real")
    timeline = admin.get(f"/{acme.slug}/customers/{customer_id}/timeline")
    assert timeline.status_code == 303 and timeline.headers["Location"] == f"/{acme.slug}/customers/{customer_id}"


def test_a_reps_tags_page_counts_only_the_customers_the_rep_may_see(acme, people, client_as, tagged, admin):
    for _mine in range(2):
        tagged(acme, ["VIP"], member_id=people["rep"].member_id, name="Mine")
    for _theirs in range(5):
        tagged(acme, ["VIP"], member_id=people["rep2"].member_id, name="Theirs")
    deleted = tagged(acme, ["VIP"], member_id=people["rep"].member_id, name="Binned")
    assert admin.post(f"/{acme.slug}/customers/{deleted}/delete").status_code == 303
    rep = client_as(people["rep"].account_id).get(f"/{acme.slug}/tags/")
    assert _vip_count(rep.text) == "2"
    assert _vip_count(admin.get(f"/{acme.slug}/tags/").text) == "7"


def _vip_count(html: str) -> str:
    return re.search(r'tag-\w+">VIP</span></td>\s*<td[^>]*><a href="[^"]*">(\d+)</a>', html)[1]


# The walk: every route of app.url_map, each path parameter, and each name the views read from the query string
# or the form, given each of these values in turn.
HOSTILE = {"NUL": "\x00", "past the integer range": "2147483648", "negative": "-1",
           "past 64 bits": "9999999999999999999", "year 1": "0001-01-01", "100,000 characters": "x" * 100_000,
           "CR/LF": "/\r\n/evil.test", "tab": "/\t/evil.test"}  # the last two also try to redirect off the site
# Names a view could pass on as keyword arguments (url_for's and saved()'s own, the tenant's slug).
HOSTILE_NAMES = {"endpoint": "x", "message": "x", "values": "x", "_external": "1", "_scheme": "javascript",
                 "_anchor": "x", "_method": "x", "slug": "x"}
PARAMETER = re.compile(r"<(?:[^:<>]+:)?(?P<name>\w+)>")
NOT_PAGES = {"static", "health.healthz", "api-docs.openapi_json"}  # not HTML: a file, JSON
PARTS = 4  # the walk in four tests, which `pytest -n 2` spreads over both cores


class NamesRead(ImmutableMultiDict):
    """A query string or form that notes every name a view asks it for, so the walk sends hostile values under
    the names the views actually read (and finds new ones as it goes) instead of a list kept by hand."""

    names: set[str] = set()

    def __getitem__(self, key):
        self.names.add(key)
        return super().__getitem__(key)

    def getlist(self, key, type=None):
        self.names.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        self.names.add(key)
        return super().__contains__(key)


@pytest.fixture
def names_read(app, monkeypatch):
    class Request(app.request_class):
        parameter_storage_class = NamesRead

    monkeypatch.setattr(app, "request_class", Request)
    return NamesRead.names


@pytest.fixture(scope="module")
def world(app):
    """The walkers' tenant, with a filterable custom field of every type on every kind of record, so forms and
    list filters read their names too."""
    from crm.fields.models import ENTITIES, TYPES, CustomField

    made = routes.make_world(app)
    options = [{"key": "k1", "en": "One", "zh": "一"}]
    with app.app_context(), tenant_bound(made["tenant"].ref):
        db.session.add_all(CustomField(entity=entity, key=f"w_{kind}", type=kind, label_en=f"Walk {kind}",
                                       options=options, filterable=True, in_list=True)
                           for entity in ENTITIES for kind in TYPES)
        db.session.add(CustomField(entity="customer", key="w_secret", type="text", label_en="Walk secret",
                                   sensitive=True))
    return made


# Values that get common fields past their checks; any other field is sent empty (so it takes its default), or
# with text where it is required, so a request goes as far as saving and every field on the way is read.
PLAUSIBLE = {"method": "call", "next_method": "call", "channel": "email", "language": "en", "currency": "CNY",
             "probability": "10", "price": "1", "days": "30", "warn_days_before": "0", "type": "text",
             "entity": "customer", "line_key": "k1", "line_quantity": "1", "line_unit_price": "1"}
REQUIRED_TEXT = {"name", "title", "subject", "body", "summary", "text", "outcome", "name_en", "label_en", "password",
                 "lost_reason", "line_description"}


def plausible(name: str, ids: dict) -> str:
    """What a field gets while another one is hostile."""
    if name in ids:
        return str(ids[name])
    if name in PLAUSIBLE:
        return PLAUSIBLE[name]
    if name.endswith("_at"):
        return "2030-01-02T10:00"
    if "email" in name:
        return "walker@example.com"
    return "Walker's value" if name in REQUIRED_TEXT else ""


class Walk:
    """The requests of one route by one client, as a page or as htmx, and what went wrong in them."""

    def __init__(self, client, rule, method: str, headers: dict, ids: dict, names_read: set, failures: list):
        self.client, self.rule, self.method, self.headers, self.ids = client, rule, method, headers, ids
        self.names_read, self.failures, self.names, self.sent = names_read, failures, set(), 0
        self.fields = {**ids, "stage_id": ids["deal_stage_id"]}  # a form's stage is one of its deal's pipeline

    def url(self, hostile: tuple[str, str] | None = None) -> str:
        def value(match):
            name = match["name"]
            return quote(hostile[1] if hostile and hostile[0] == name else str(self.ids.get(name, "x")), safe="")
        return PARAMETER.sub(value, self.rule.rule)

    def send(self, fields: dict, what: str, url: str | None = None) -> None:
        """One request with `fields` in the query string (and in the form of a POST, over plausible values for
        the other names read), noting the names it reads and any 500, exception or fragment shown as a page."""
        self.names_read.clear()
        # Never an empty form: Flask-WTF reads no field of one, so the walk would not learn the fields' names. The
        # CSRF token rides in a header; a form value would be read first and refuse the request.
        form = {"walk": "1", **{name: plausible(name, self.fields) for name in self.names - {"csrf_token"}}, **fields}
        where = f"{self.method} {self.rule.rule} {what} ({'htmx' if self.headers else 'page'})"
        try:
            answer = self.client.open(url or self.url(), method=self.method, headers=self.headers,
                                      query_string=fields, data=form if self.method == "POST" else None)
        except Exception as error:  # noqa: BLE001 - a view that raised is what the walk looks for
            self.failures.append(f"{where}: raised {error!r:.300}")
            return
        finally:
            self.sent += 1
            self.names |= self.names_read
        if answer.status_code >= 500:
            self.failures.append(f"{where}: {answer.status_code}")
        elif any(leaves_site(answer.headers.get(header, "")) for header in ("Location", "HX-Location")):
            self.failures.append(f"{where}: sends the browser to another site")
        elif (self.method == "GET" and not self.headers and answer.status_code == 200
              and self.rule.endpoint not in NOT_PAGES and answer.mimetype == "text/html"  # not a served file
              and "<html" not in answer.text
              and not answer.headers.get("Content-Disposition", "").startswith("attachment")):  # a download
            self.failures.append(f"{where}: a fragment answered as a page")

    def deep(self) -> None:
        """Each path parameter, then each name read, given each hostile value in turn (the others plausible); a
        NUL goes in every name at once, since the input layer refuses it wherever it is."""
        self.send({}, "as it is")
        self.send(HOSTILE_NAMES, "with names of keyword arguments")
        for parameter in self.rule.arguments:
            for label, value in HOSTILE.items():
                self.send({}, f"<{parameter}> {label}", self.url((parameter, value)))
        done: set[str] = set()
        while pending := sorted(self.names - done):
            done.update(pending)
            self.send({}, "with plausible values")  # which may reach names read only once the others pass
            self.send(dict.fromkeys(pending, HOSTILE["NUL"]), "every name NUL")
            for name in pending:
                for label, value in HOSTILE.items():
                    if label != "NUL":
                        self.send({name: value}, f"{name}={label}")

    def broad(self) -> None:
        """Every name read given each hostile value at once: the same view seen by another client or as the
        other kind of request."""
        self.send({}, "as it is")
        done: set[str] = set()
        while pending := sorted(self.names - done):
            done.update(pending)
            self.send({}, "with plausible values")
            for label, value in HOSTILE.items():
                self.send(dict.fromkeys(pending, value), f"every name {label}")


def leaves_site(location: str) -> bool:
    """Whether a browser sent to `location` leaves this site (browsers drop tabs and line breaks, as urlsplit
    does, and read a backslash as a slash)."""
    target = urlsplit(urljoin("http://localhost/", location.replace("\\", "/")))
    return bool(location) and (target.scheme not in ("http", "https") or target.netloc != "localhost")


def walk_ids(app, world, member_id: int) -> dict:
    """Ids for every path parameter and id field: fresh records the member owns (a POST may delete them)."""
    records, victims = routes.make_records(app, world, member_id), routes.make_victims(app, world)
    ids = {**victims, "customer_id": records["own"][0], "ids": records["own"][0], "to_member_id": member_id,
           "owner_id": member_id}
    for param in routes.OWNED:
        ids[param] = routes.make_owned(app, world, param, records)["own"][0]
    with app.app_context(), tenant_bound(world["tenant"].ref):
        ids["deal_stage_id"] = db.session.scalar(select(Deal.stage_id).where(Deal.id == ids["deal_id"]))
    return ids


@pytest.mark.slow
@pytest.mark.parametrize("part", range(PARTS))
def test_no_route_answers_a_hostile_value_with_a_500(app, world, client_as, names_read, caplog, part):
    """Each route walked deeply by one client as htmx (the admin's, or nobody's for public pages), and broadly by
    the others (a rep, the admin, nobody) as htmx and as a page."""
    started, failures, sent = time.monotonic(), [], 0
    admin, rep = world["actors"]["admin"], world["actors"]["sales_rep"]
    with app.test_request_context():
        rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)
    reads = walk_ids(app, world, rep[1])  # a GET changes nothing, so they share records; each POST gets its own
    for rule in rules[part::PARTS]:
        for method in sorted(rule.methods & {"GET", "POST"}):
            ids = reads if method == "GET" else walk_ids(app, world, rep[1])
            ids = {**ids, **routes.fill(rule, world, {}, ids)}
            clients = {"admin": client_as(admin[0]), "rep": client_as(rep[0])}
            if "slug" not in rule.arguments:
                clients = {"anonymous": app.test_client(), **clients}
            for index, client in enumerate(clients.values()):
                for headers in (HX, {}):
                    walk = Walk(client, rule, method, headers, ids, names_read, failures)
                    if index == 0 and headers:
                        walk.deep()
                    else:
                        walk.broad()
                    sent += walk.sent
    errors = [record.getMessage()[:300] for record in caplog.records if record.levelno >= logging.ERROR]
    print(f"\npart {part}: {sent} requests over {len(rules[part::PARTS])} routes in {time.monotonic() - started:.0f} s")
    assert not failures, f"{len(failures)} hostile requests failed:\n" + "\n".join(failures[:60])
    assert not errors, "\n".join(errors[:20])
