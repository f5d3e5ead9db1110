"""Every ticket route for every default role: 403 when the role may not act at all, 404 for a ticket outside
its scope (own = assigned to me; team scopes also reach unassigned tickets), and another tenant's tickets are
never found. Routes come from the URL map, so a new ticket route is covered without editing this test."""
import uuid

import pytest
from sqlalchemy import func, select, text

from crm.extensions import db
from crm.members.models import Member, Role, Team
from crm.members.permissions import DEFAULT_ROLES
from crm.tickets.models import Ticket, TicketComment
from tests.tickets.conftest import HX

ROLES = [role["key"] for role in DEFAULT_ROLES]
ALLOWED = {200, 204, 303, 422}


@pytest.fixture(scope="module")
def world(app):
    """A tenant with teams East and West, one member per role in East, a teammate and an outsider."""
    from crm.accounts import service as accounts
    from crm.accounts.models import Account
    from crm.accounts.service import hasher
    from tenants.binding import tenant_bound
    from tenants.models import Membership
    from tests.conftest import TenantInfo, unique

    with app.app_context():
        slug = unique()
        account, tenant = accounts.sign_up("Ticket Co", slug, "Owner", f"owner@{slug}.example", "password-123", "en")
        db.session.commit()
        info = TenantInfo(tenant.id, slug, tenant.name, account.id, 0)
        made = {"tenant": info}
        with tenant_bound(info.ref):
            east, west = Team(name="East"), Team(name="West")
            db.session.add_all([east, west])
            db.session.flush()
            roles = dict(db.session.execute(select(Role.key, Role.id)).all())

            def member(name, role, team):
                acc = Account(email=f"{unique('k')}@example.com", name=name, password_hash=hasher.hash("x" * 10))
                db.session.add(acc)
                db.session.flush()
                db.session.add(Membership(account_id=acc.id, tenant_id=tenant.id))
                person = Member(account_id=acc.id, role_id=roles[role], team_id=team.id, name=name, email=acc.email)
                db.session.add(person)
                db.session.flush()
                return acc.id, person.id

            made["actors"] = {key: member(f"Actor {key}", key, east) for key in ROLES}
            made["teammate"] = member("Teammate", "sales_rep", east)[1]
            made["outsider"] = member("Outsider", "sales_rep", west)[1]
            east.manager_id = made["actors"]["sales_manager"][1]
            made["admin"] = made["actors"]["admin"][1]
    return made


def make_tickets(app, world, actor: int, customer_id: int) -> dict:
    """Fresh open tickets assigned to the actor, a teammate, an outsider and nobody: {label: (id, subject)}."""
    from tenants.binding import tenant_bound
    from crm.extensions import utcnow

    owners = {"own": actor, "team": world["teammate"], "other": world["outsider"], "none": None}
    suffix = uuid.uuid4().hex[:8]
    with app.app_context(), tenant_bound(world["tenant"].ref):
        tickets = {label: Ticket(customer_id=customer_id, subject=f"Ticket {label} {suffix}", kind="inquiry",
                                 priority="normal", status="open", owner_id=owner, due_at=utcnow())
                   for label, owner in owners.items()}
        db.session.add_all(tickets.values())
        db.session.flush()
        return {label: (ticket.id, ticket.subject) for label, ticket in tickets.items()}


def reaches(scope: str, label: str) -> bool:
    return scope == "all" or scope in ("team", "subteams") and label != "other" or scope == "own" and label == "own"


def state(app, world, ticket_id: int) -> tuple:
    with app.app_context(), db.engine.connect() as connection:
        schema = f"t_{world['tenant'].id}"
        row = connection.execute(text(f"select t::text from {schema}.tickets t where id = :i"), {"i": ticket_id})
        comments = connection.execute(text(f"select count(*) from {schema}.ticket_comments where ticket_id = :i"),
                                      {"i": ticket_id})
        return row.scalar(), comments.scalar()


def ticket_rules(app) -> list:
    with app.test_request_context():
        return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("tickets.")]


@pytest.mark.parametrize("role_key", ROLES)
def test_every_ticket_route_allows_and_denies_by_role_and_scope(app, world, client_as, make_customer, role_key):
    account_id, member_id = world["actors"][role_key]
    permissions = next(r["permissions"] for r in DEFAULT_ROLES if r["key"] == role_key)
    customer_id = make_customer(world["tenant"], member_id=world["admin"])
    checked = 0
    for rule in ticket_rules(app):
        resource, action = app.view_functions[rule.endpoint].permissions[0]
        scope = permissions[resource][action]
        for method in sorted(rule.methods & {"GET", "POST"}):
            tickets = make_tickets(app, world, member_id, customer_id)
            targets = tickets.items() if "ticket_id" in rule.arguments else [("list", (None, ""))]
            for label, (ticket_id, _subject) in targets:
                before = {lbl: state(app, world, tid) for lbl, (tid, _s) in tickets.items()}
                with app.test_request_context():
                    url = app.url_for(rule.endpoint, slug=world["tenant"].slug,
                                      **({"ticket_id": ticket_id} if ticket_id else {}))
                form = {"status": "resolved", "body": "A comment", "owner_id": member_id, "subject": "New",
                        "customer_id": customer_id}
                response = client_as(account_id).open(url, method=method, headers=HX,
                                                       data=form if method == "POST" else None)
                where = f"{role_key}: {method} {rule.rule} [{label}] -> {response.status_code}"
                if scope == "none":
                    assert response.status_code == 403, where
                elif ticket_id is not None and not reaches(scope, label):
                    assert response.status_code == 404, where
                else:
                    assert response.status_code in ALLOWED, where
                view_scope = permissions["tickets"]["view"]
                for lbl, (tid, subject) in tickets.items():  # nothing outside the role's reach is shown or changed
                    if not reaches(view_scope if method == "GET" else scope, lbl):
                        assert subject not in response.get_data(as_text=True), where
                        assert state(app, world, tid) == before[lbl], where
                checked += 1
    assert checked > 30


def test_another_tenants_tickets_are_never_found(app, acme, globex, client_as, make_customer, make_ticket,
                                                 in_tenant):
    secret = make_ticket(globex, make_customer(globex), subject="GLOBEX-SECRET ticket")
    make_ticket(acme, make_customer(acme), subject="Acme's own")  # so Acme has a ticket with the same id
    snapshot = lambda: in_tenant(globex, lambda: (
        [(t.status, t.owner_id, t.subject) for t in db.session.scalars(select(Ticket))],
        db.session.scalar(select(func.count(TicketComment.id)))))
    before = snapshot()
    client = client_as(acme.admin_account_id)
    for rule in ticket_rules(app):
        for method in sorted(rule.methods & {"GET", "POST"}):
            for slug in (acme.slug, globex.slug):
                with app.test_request_context():
                    url = app.url_for(rule.endpoint, slug=slug,
                                      **({"ticket_id": secret + 1000} if "ticket_id" in rule.arguments else {}))
                response = client.open(url + "?customer=1&customer_q=GLOBEX&q=TK-1", method=method, headers=HX,
                                       data={"status": "resolved", "body": "x", "owner_id": "", "subject": "x",
                                             "customer_id": "1"} if method == "POST" else None)
                where = f"{method} {url} -> {response.status_code}"
                assert response.status_code < 500 and "GLOBEX-SECRET" not in response.get_data(as_text=True), where
                if slug == globex.slug or "ticket_id" in rule.arguments:
                    assert response.status_code == 404, where
        with app.test_request_context():
            url = app.url_for(rule.endpoint, slug=acme.slug,
                              **({"ticket_id": secret} if "ticket_id" in rule.arguments else {}))
        assert "GLOBEX-SECRET" not in client.get(url, headers=HX).get_data(as_text=True)
    assert snapshot() == before
