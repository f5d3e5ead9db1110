"""Shared fixtures: real PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL are set), the app,
tenants made on demand, signed-in clients and a real SMTP server."""
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from crm import embedded

HX = {"HX-Request": "true"}  # headers of a request htmx makes (a swap of part of the page)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
WORKER_NUMBER = int(WORKER[2:]) if WORKER[2:].isdigit() else 0
TEST_SECRET_KEY = "test-secret-key"
RESERVED_DOMAINS = (".example", ".example.com", ".example.org", ".example.net", ".test", ".invalid")
_getaddrinfo = socket.getaddrinfo


def _reserved_names_never_resolve(host, *args, **kwargs):
    """RFC 2606 names never resolve, so the suite does not ask: on this network a lookup can wait seconds for a
    DNS server that cannot answer, and the tests' webhook subscriptions and mail hosts use such names."""
    if isinstance(host, str) and ("." + host.lower().rstrip(".")).endswith(RESERVED_DOMAINS):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _reserved_names_never_resolve


@pytest.fixture(scope="session")
def service_urls():
    """(database URL, Redis URL) for this test process; a fresh database and Redis db each run."""
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if database_url and redis_url:
        name = f"crm_test_{WORKER}"
        embedded.drop_database(database_url, name)
        url = embedded.ensure_database(database_url, name)
        _commit_without_waiting(database_url, name)
        if pooler_url := os.environ.get("TEST_DATABASE_POOLER_URL"):
            # The database is made and dropped directly; the app and its jobs reach it through the pooler (CI runs
            # the suite once through PgBouncer in transaction mode, with DATABASE_POOL_MODE=transaction).
            url = embedded.with_database(pooler_url, name)
        redis_db = redis_url.rsplit("/", 1)[0] + f"/{1 + WORKER_NUMBER}"
        yield url, redis_db
        embedded.drop_database(database_url, name)
        return
    services = embedded.start(Path(tempfile.mkdtemp(prefix=f"crm-test-{WORKER}-")), temporary=True)
    try:
        yield embedded.ensure_database(services.database_url, "crm_test"), services.redis_url
    finally:
        services.stop()


def _commit_without_waiting(admin_url: str, name: str) -> None:
    """A test database need not survive a power cut: commits stop waiting for the WAL's flush, as the embedded
    server's do (crm/embedded.py), which the suite's thousands of small transactions and tenant schemas feel."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("alter database {} set synchronous_commit = off").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def app(service_urls):
    import redis

    from crm import create_app
    from crm.extensions import db
    from tenants.migrations import upgrade_public

    database_url, redis_url = service_urls
    redis.Redis.from_url(redis_url).flushdb()
    os.environ["DATABASE_URL"], os.environ["REDIS_URL"] = database_url, redis_url  # jobs make their own app
    os.environ["ARGON2_PROFILE"] = "CHEAPEST"
    os.environ["SECRET_KEY"] = TEST_SECRET_KEY  # worker processes sign and encrypt as the test app does
    # Stored files in a folder of this test process: xdist workers have databases of their own, so their tenant ids
    # repeat, and one worker's sweep of orphaned files must not see another's.
    os.environ["FILE_DIR"] = tempfile.mkdtemp(prefix="crm-test-files-")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url.replace("postgresql://", "postgresql+psycopg://", 1),
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "FILE_DIR": os.environ["FILE_DIR"],
        "TENANT_CACHE_SECONDS": 0.0,
        "TENANT_POOL_SIZE": 0,  # tests of the spare pool turn it on themselves
        "LOGIN_IP_LIMITS": "10000 per minute",
        "ARGON2_PROFILE": "CHEAPEST",  # a password hash in microseconds, not 110 ms: the suite makes hundreds
    })
    app.test_client_class = CsrfClient
    with app.app_context():
        upgrade_public(db.engine)
    return app


class CsrfClient(FlaskClient):
    """A browser-like client: every write carries the session's CSRF token, as the pages' htmx does."""

    csrf = True

    def open(self, *args, **kwargs):
        method = kwargs.get("method", "GET").upper()
        if self.csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", uuid.uuid4().hex)
        return URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token").dumps(raw)


@pytest.fixture(autouse=True)
def no_webhook_jobs_left_behind(request):
    """A test's webhook deliveries are run (or not) within the test; those it leaves queued would be sent by every
    later test that runs the webhooks queue, each retry again, to receivers long gone."""
    yield
    if "app" not in request.fixturenames:
        return
    from crm.jobs import queue

    with request.getfixturevalue("app").app_context():
        webhooks = queue("webhooks")
        webhooks.empty()
        scheduled = webhooks.scheduled_job_registry
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)


@pytest.fixture
def ctx(app):
    """An app context for code that runs outside a request (services, jobs)."""
    from crm.extensions import db

    with app.app_context():
        yield
        db.session.rollback()


@dataclass
class TenantInfo:
    id: int
    slug: str
    name: str
    admin_account_id: int
    admin_member_id: int

    @property
    def ref(self):
        from tenants.resolver import TenantRef

        return TenantRef(self.id, self.slug, self.name, "active")


def local_link(url: str) -> str:
    """The path and query of an absolute link from a message, to open with the test client (the browser tests'
    server moves BASE_URL to its own port for the rest of the session)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_tenant(app):
    """Provision a new tenant with an admin account; returns its TenantInfo."""
    from sqlalchemy import select

    from crm.accounts import service as accounts
    from crm.extensions import db
    from crm.members.models import Member
    from tenants.binding import tenant_bound

    def make(name: str = "Acme 贸易", slug: str | None = None) -> TenantInfo:
        slug = slug or unique()
        with app.app_context():
            account, tenant = accounts.sign_up(name, slug, "Ada Admin", f"admin@{slug}.example", "password-123", "en")
            db.session.commit()
            info_ref = TenantInfo(tenant.id, tenant.slug, tenant.name, account.id, 0)
            with tenant_bound(info_ref.ref):
                info_ref.admin_member_id = db.session.scalar(select(Member.id).where(Member.account_id == account.id))
        return info_ref

    return make


@pytest.fixture
def acme(make_tenant):
    return make_tenant("Acme 贸易")


@pytest.fixture
def globex(make_tenant):
    return make_tenant("Globex 科技")


@pytest.fixture
def add_member(app):
    """Add a member with a given role to a tenant; returns (account id, member id)."""
    from sqlalchemy import select

    from crm.accounts.models import Account
    from crm.accounts.service import hash_password
    from crm.extensions import db
    from crm.members.models import Member, Role
    from tenants.binding import tenant_bound
    from tenants.models import Membership

    def add(tenant: TenantInfo, role: str = "sales_rep", name: str = "Sam Rep") -> tuple[int, int]:
        with app.app_context():
            account = Account(email=f"{unique('m')}@example.com", name=name, password_hash=hash_password("password-123"))
            db.session.add(account)
            db.session.flush()
            db.session.add(Membership(account_id=account.id, tenant_id=tenant.id))
            db.session.commit()
            with tenant_bound(tenant.ref):
                role_id = db.session.scalar(select(Role.id).where(Role.key == role))
                member = Member(account_id=account.id, role_id=role_id, name=name, email=account.email)
                db.session.add(member)
                db.session.flush()
                member_id = member.id
            return account.id, member_id

    return add


@pytest.fixture
def client_as(app):
    """A test client signed in as the account with this id (a session of its own, as after signing in)."""
    from crm.accounts.models import Account
    from crm.accounts.sessions import start_session
    from crm.extensions import db

    def make(account_id: int) -> CsrfClient:
        client = app.test_client()
        with app.app_context():
            token = start_session(db.session.get(Account, account_id), "127.0.0.1", "pytest")
            db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = token
            session["_fresh"] = True
        return client

    return make


@pytest.fixture
def make_customer(app):
    """Create a customer in a tenant as its admin (or another member); returns its id."""
    from crm.customers import writes
    from crm.extensions import db
    from crm.members.models import Member
    from tenants.binding import tenant_bound

    def make(tenant: TenantInfo, member_id: int | None = None, **fields) -> int:
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id or tenant.admin_member_id)
            customer = writes.create_customer(viewer, {"name": "Zhang Wei", **fields})
            return customer.id

    return make


@pytest.fixture
def make_contact(in_tenant):
    """A contact of a customer, stored as it is given (not primary unless said); returns its id."""
    from crm.contacts.models import Contact
    from crm.extensions import db

    def make(tenant: TenantInfo, customer_id: int, **fields) -> int:
        def add():
            contact = Contact(customer_id=customer_id, **{"is_primary": False, **fields})
            db.session.add(contact)
            db.session.flush()
            return contact.id
        return in_tenant(tenant, add)

    return make


@pytest.fixture
def in_tenant(app):
    """Run a function inside an app context with the tenant bound; returns its result."""
    from tenants.binding import tenant_bound

    def run(tenant: TenantInfo, func):
        with app.app_context(), tenant_bound(tenant.ref):
            return func()

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port; `.messages` holds what arrived."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Collect(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.messages = handler.messages
    controller.url = f"smtp://127.0.0.1:{controller.port}"
    yield controller
    controller.stop()


@pytest.fixture(autouse=True)
def empty_notify_queue(app):
    """Messages an earlier test left waiting (jobs in Redis, due lines the sweeper would hand over) belong to
    its tenants: they must not reach this test's mail sink."""
    from crm.extensions import db
    from crm.jobs import queue
    from crm.notify.models import NotificationDue

    with app.app_context():
        queue("imports").empty()
        queue("exports").empty()
        notify = queue("notify")
        notify.empty()
        for job_id in notify.scheduled_job_registry.get_job_ids():
            notify.scheduled_job_registry.remove(job_id)
        db.session.execute(NotificationDue.__table__.delete())
        db.session.commit()
    yield


@pytest.fixture
def admin(acme, client_as):
    """A client signed in as Acme's admin."""
    return client_as(acme.admin_account_id)


@pytest.fixture
def role_id(in_tenant):
    """The id of a tenant's role by key ("admin", "sales_rep", ...)."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.members.models import Role

    return lambda tenant, key: in_tenant(tenant, lambda: db.session.scalar(select(Role.id).where(Role.key == key)))


@dataclass
class Person:
    account_id: int
    member_id: int


@pytest.fixture
def people(acme, add_member, in_tenant):
    """Team East (manager Mia, reps Rui and Ren) and team West (rep Wes), plus Acme's admin."""
    from crm.extensions import db
    from crm.members.models import Member, Team

    made = {name: Person(*add_member(acme, role, name)) for name, role in (
        ("Mia Manager", "sales_manager"), ("Rui Rep", "sales_rep"), ("Ren Rep", "sales_rep"),
        ("Wes West", "sales_rep"))}

    def teams():
        east, west = Team(name="East", manager_id=made["Mia Manager"].member_id), Team(name="West")
        db.session.add_all([east, west])
        db.session.flush()
        for name in ("Mia Manager", "Rui Rep", "Ren Rep"):
            db.session.get(Member, made[name].member_id).team_id = east.id
        db.session.get(Member, made["Wes West"].member_id).team_id = west.id

    in_tenant(acme, teams)
    return {"manager": made["Mia Manager"], "rep": made["Rui Rep"], "rep2": made["Ren Rep"],
            "west": made["Wes West"], "admin": Person(acme.admin_account_id, acme.admin_member_id)}


@pytest.fixture
def run_worker(app):
    """Run every job waiting on the imports, exports, webhooks and notify queues (scheduled ones included when
    due), in this process."""
    from rq import SimpleWorker

    from crm.jobs import queue

    def run():
        with app.app_context():
            SimpleWorker([queue("imports"), queue("exports"), queue("webhooks"), queue("notify")], connection=queue().connection).work(
                burst=True, with_scheduler=True)

    return run


@pytest.fixture
def smtp_on(app, smtp_server):
    """Email goes to a real SMTP server for this test."""
    app.config["SMTP_URL"] = smtp_server.url
    yield smtp_server
    app.config["SMTP_URL"] = ""


# Records made through their features' services, as a user would make them.
@pytest.fixture
def make_product(app):
    """Add a product to a tenant's catalogue; returns its id."""
    from crm.products import service
    from tenants.binding import tenant_bound

    def make(tenant, **fields) -> int:
        with app.app_context(), tenant_bound(tenant.ref):
            return service.create_product({"name": "Tea 龙井", "price": "19.99", **fields}).id

    return make


@pytest.fixture
def make_order(app):
    """Place an order as a member (the admin unless named) with `lines` as the form's line fields; its id."""
    from crm.extensions import db
    from crm.members.models import Member
    from crm.orders import service
    from crm.orders.forms import LineInput
    from tenants.binding import tenant_bound

    def make(tenant, customer_id: int, member_id: int | None = None, lines=None, **fields) -> int:
        lines = lines or [{"description": "Green tea", "quantity": "3", "unit_price": "19.99", "discount": "15"}]
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id or tenant.admin_member_id)
            data = {"customer_id": str(customer_id), "owner_id": str(viewer.id), **fields}
            rows = [LineInput(key=f"k{i}", **line) for i, line in enumerate(lines)]
            return service.create_order(viewer, data, rows).id

    return make


@pytest.fixture
def stage_ids(in_tenant):
    """{English stage name: id} of a tenant's default pipeline."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.deals.models import Stage

    def ids(tenant) -> dict[str, int]:
        return in_tenant(tenant, lambda: dict(db.session.execute(
            select(Stage.name_en, Stage.id).where(Stage.pipeline_id == 1)).all()))

    return ids


@pytest.fixture
def make_deal(app, make_customer, stage_ids):
    """Create a deal as a member (the admin by default) in a stage of the default pipeline; returns its id."""
    from crm.extensions import db
    from crm.members.models import Member
    from crm.deals import deals
    from tenants.binding import tenant_bound

    def make(tenant, member_id: int | None = None, stage: str = "Lead", customer_id: int | None = None,
             **fields) -> int:
        member_id = member_id or tenant.admin_member_id
        customer_id = customer_id or make_customer(tenant, member_id=member_id, name="Deal customer")
        stage_id = stage_ids(tenant)[stage]
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id)
            deal = deals.create_deal(viewer, {"title": "Deal", "customer_id": customer_id, "stage_id": stage_id,
                                              **fields})
            return deal.id

    return make


@pytest.fixture
def make_ticket(app):
    """Open a ticket in a tenant as its admin (or another member); returns its id.

    `status` moves it along the workflow; `due_at` (a datetime) is stored as given."""
    from crm.extensions import db
    from crm.members.models import Member
    from crm.tickets import service
    from crm.tickets.models import Ticket
    from tenants.binding import tenant_bound

    path = {"open": [], "pending": ["pending"], "resolved": ["resolved"], "closed": ["resolved", "closed"]}

    def make(tenant, customer_id: int, member_id: int | None = None, status: str = "open", due_at=None,
             **fields) -> int:
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id or tenant.admin_member_id)
            data = {"subject": "Printer jams", "customer_id": customer_id, **fields}
            ticket = service.create_ticket(viewer, data)
            for step in path[status]:
                service.move_ticket(viewer, ticket, step)
            if due_at is not None:
                db.session.get(Ticket, ticket.id).due_at = due_at
            db.session.commit()
            return ticket.id

    return make


@pytest.fixture
def tagged(app, make_customer, in_tenant):
    """Make a customer with tags (by name, created when new); returns its id."""
    from crm.customers import writes
    from crm.extensions import db
    from crm.customers.models import Customer
    from crm.tags import service as tags

    def make(tenant, tag_names=(), member_id=None, **fields):
        customer_id = make_customer(tenant, member_id=member_id, **fields)

        def tag():
            for name in tag_names:
                writes.add_tag([db.session.get(Customer, customer_id)], tags.find_or_create_tag(name))

        in_tenant(tenant, tag)
        return customer_id

    return make


@pytest.fixture
def outbox_rows(in_tenant):
    """A tenant's outbox as (channel, kind, status, attempts, recipient, last error), oldest first."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.notify.models import Notification

    def rows(tenant, **where):
        def read():
            stmt = select(Notification).order_by(Notification.id)
            for name, value in where.items():
                stmt = stmt.where(getattr(Notification, name) == value)
            return [(n.channel, n.kind, n.status, n.attempts, n.recipient, n.last_error)
                    for n in db.session.scalars(stmt)]
        return in_tenant(tenant, read)

    return rows


@pytest.fixture
def make_api_token(app):
    """A personal API token of a member (the tenant's admin unless named), made as the profile page makes it;
    returns the secret to send as `Authorization: Bearer`."""
    from crm.api import tokens
    from crm.extensions import db
    from crm.members.models import Member
    from tenants.binding import tenant_bound

    def make(tenant, member_id: int | None = None, name: str = "ERP sync", lifetime: str = "90") -> str:
        with app.app_context(), tenant_bound(tenant.ref):
            member = db.session.get(Member, member_id or tenant.admin_member_id)
            return tokens.create_token(member, tenant.id, name, lifetime).secret

    return make


def bearer(secret: str, **headers) -> dict:
    """Headers of an API call with this token (no cookie: the API client is a plain test client)."""
    return {"Authorization": f"Bearer {secret}", **headers}


@pytest.fixture
def fake_stripe(app):
    """A local fake Stripe (tests/fake_stripe.py) that every Stripe call of the app goes to during the test."""
    from tests.fake_stripe import FakeStripe

    fake = FakeStripe().start()
    before = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = fake.url
    yield fake
    app.config["STRIPE_API_BASE"] = before
    fake.stop()


@pytest.fixture
def field_keys(app):
    """FIELD_KEYS for a key-rotation test: `field_keys("new", "old", "dev")` lists keys by id, newest first (a new
    id gets a new random key; "dev" is the development key every other test encrypts with). Afterwards every value
    is rotated back under the development key, so no tenant is left under a key nobody has: a later rotation, in
    any order, reads every tenant again."""
    import base64

    from crm import crypto

    keys = {"dev": base64.b64encode(crypto.parse_keys("", app.config["SECRET_KEY"])[0][1]).decode()}

    def use(*ids: str) -> None:
        for key_id in ids:
            keys.setdefault(key_id, crypto.new_key())
        app.config["FIELD_KEYS"] = ",".join(f"{key_id}:{keys[key_id]}" for key_id in ids)

    yield use
    use("dev", *(key_id for key_id in keys if key_id != "dev"))
    result = app.test_cli_runner().invoke(args=["tenants", "rotate-keys"])
    app.config["FIELD_KEYS"] = ""
    assert result.exit_code == 0, result.output
