"""Record- and action-level permissions for every default role on every tenant route.

Routes come from app.url_map and what each view requires from its @require decorators, so a new route
is covered without editing this test. For each role the acting member sits in team East; records are
owned by the actor (own), by a teammate (team) and by a member of team West (other)."""
import pytest
from sqlalchemy import text

from crm.extensions import db
from crm.members.permissions import DEFAULT_ROLES
from tests.routes import OWNED, ROLES, fill, make_owned, make_records, make_victims, make_world

ALLOWED = {200, 204, 303, 422}


@pytest.fixture(scope="module")
def world(app):
    return make_world(app)


def reaches(scope: str, owner: int | None, actor: int, world) -> bool:
    if scope == "all":
        return True
    if owner is None:  # only records that may be unassigned (UNASSIGNED) are made without an owner
        return scope in ("team", "subteams")
    if scope in ("team", "subteams"):
        return owner in world["east"]
    return scope == "own" and owner == actor


def row_of(app, world, record_id, table: str = "customers") -> str | None:
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(text(f"select r::text from t_{world['tenant'].id}.{table} r where id = :i"),
                                  {"i": record_id}).scalar()


def role_scope(app, world, key):
    return next(r["permissions"] for r in DEFAULT_ROLES if r["key"] == key)


@pytest.mark.slow
@pytest.mark.parametrize("role_key", ROLES)
def test_every_route_allows_and_denies_by_role_and_scope(app, world, client_as, role_key):
    account_id, member_id = world["actors"][role_key]
    permissions = role_scope(app, world, role_key)
    with app.test_request_context():
        rules = [r for r in app.url_map.iter_rules() if "slug" in r.arguments]
    checked = 0
    # Reads change nothing, so every GET shares one set of records; each POST gets fresh ones (it may delete).
    for_reads: dict = {}
    for rule in rules:
        needs = getattr(app.view_functions[rule.endpoint], "permissions", [])
        for method in sorted(rule.methods & {"GET", "POST"}):
            made = for_reads if method == "GET" else {}
            if "records" not in made:
                made.update(records=make_records(app, world, member_id), victims=make_victims(app, world))
            records, victims = made["records"], made["victims"]
            param = next((p for p in ("customer_id", *OWNED) if p in rule.arguments), None)
            if param in OWNED and param not in made:
                made[param] = make_owned(app, world, param, records)
            owned = made.get(param, {})
            if param == "customer_id":
                targets = records.items()
            elif param:
                targets = owned.items()
            else:
                targets = [("none", (None, "", None))]
            for label, (record_id, secret, owner) in targets:
                before = {lbl: row_of(app, world, rec[0]) for lbl, rec in records.items()}
                owned_before = {lbl: row_of(app, world, rec[0], OWNED[param][1]) for lbl, rec in owned.items()}
                client = client_as(account_id)
                with app.test_request_context():
                    target = {param: record_id} if param else {}
                    if param and param != "customer_id" and "customer_id" in rule.arguments:
                        target["customer_id"] = records[label][0]
                    url = app.url_for(rule.endpoint, **fill(rule, world, target, victims))
                ids = [rec[0] for rec in records.values()]
                form = {"ids": ids, "action": "delete", "name": "Changed", "value": "Changed", "tag_id":
                        victims["tag_id"], "owner_id": member_id, "role_id": victims["role_id"], "active": "0",
                        "to_member_id": member_id, "email": "perm@example.com"}
                response = client.open(url, method=method, data=form if method == "POST" else None,
                                       headers={"HX-Request": "true"})
                # Read to the end: a streamed body (an export) runs here. A served file may be any bytes.
                body = response.get_data().decode("utf-8", "replace")
                where = f"{role_key}: {method} {rule.rule} [{label}] -> {response.status_code}"
                denied = any(permissions.get(res, {}).get(act, "none") == "none" for res, act in needs)
                if denied:
                    assert response.status_code == 403, where
                elif record_id is not None and not needs:  # no permission asked: only the member's own records
                    assert (response.status_code in ALLOWED) if owner == member_id else response.status_code == 404, \
                        where
                elif record_id is not None:
                    resource, action = needs[0]
                    inside = reaches(permissions[resource][action], owner, member_id, world)
                    assert (response.status_code in ALLOWED) if inside else response.status_code == 404, where
                else:
                    assert response.status_code in ALLOWED, where
                # Whatever the route, nothing outside the role's view reach is shown or changed.
                view_scope = permissions["customers"]["view"]
                for lbl, (rid, name, rowner) in records.items():
                    if not reaches(view_scope, rowner, member_id, world):
                        assert name not in body, where
                        assert row_of(app, world, rid) == before[lbl], where
                if needs and record_id is not None and param in OWNED:  # nor is another's deal, order, ticket...
                    scope = permissions.get(needs[0][0], {}).get(needs[0][1], "none")
                    for lbl, (rid, _secret, rowner) in owned.items():
                        if lbl != label and not reaches(scope, rowner, member_id, world):
                            assert row_of(app, world, rid, OWNED[param][1]) == owned_before[lbl], where
                checked += 1
    assert checked > 40


def test_every_permission_the_role_page_offers_is_checked_by_a_view(app):
    from crm.members.permissions import OFFERED

    required = {need for view in app.view_functions.values() for need in getattr(view, "permissions", [])}
    # Entering sensitive values is checked by the customer form (fields dropped without it), not by a route.
    required.add(("sensitive", "edit"))
    offered = {(resource, action) for resource, actions in OFFERED.items() for action in actions}
    assert offered - required == set()  # a cell that changes nothing would mislead the admin
    assert required - offered == set()  # and every check a view makes can be set on the role page


API_ALLOWED = ALLOWED | {201}


def api_token(app, world, member_id: int) -> str:
    from crm.api import tokens
    from crm.members.models import Member
    from tenants.binding import tenant_bound

    with app.app_context(), tenant_bound(world["tenant"].ref):
        return tokens.create_token(db.session.get(Member, member_id), world["tenant"].id, "walk", "30").secret


@pytest.mark.parametrize("role_key", ROLES)
def test_every_api_route_allows_and_denies_by_role_and_scope(app, world, role_key):
    """The API walked like the pages: every route and method under /api/v1 with the role's own token, against
    customers owned by the actor, a teammate and an outsider; what the views `@require` decides 403, the scope
    404, and nothing outside the role's reach is shown or changed."""
    from tests.test_isolation import API_METHODS, api_rules

    _account_id, member_id = world["actors"][role_key]
    permissions = role_scope(app, world, role_key)
    headers = {"Authorization": f"Bearer {api_token(app, world, member_id)}"}
    checked = 0
    for rule in api_rules(app):
        needs = getattr(app.view_functions[rule.endpoint], "permissions", [])
        for method in sorted(rule.methods & set(API_METHODS)):
            records, victims = make_records(app, world, member_id), make_victims(app, world)
            param = next((p for p in ("customer_id", *OWNED) if p in rule.arguments), None)
            owned = make_owned(app, world, param, records) if param in OWNED else {}
            targets = (records.items() if param == "customer_id" else owned.items() if param
                       else [("none", (None, "", None))])
            for label, (record_id, _name, owner) in targets:
                before = {lbl: row_of(app, world, rec[0]) for lbl, rec in records.items()}
                owned_before = {lbl: row_of(app, world, rec[0], OWNED[param][1]) for lbl, rec in owned.items()}
                with app.test_request_context():
                    values = fill(rule, world, {param: record_id} if param else {}, victims)
                    url = app.url_for(rule.endpoint, **{**values, **({"name": "id_number"} if "name" in values else {})})
                body = {"name": "Changed", "owner_id": member_id} if method in ("POST", "PATCH") else None
                response = app.test_client().open(url, method=method, headers=headers, json=body)
                text = response.get_data(as_text=True)
                where = f"{role_key}: {method} {rule.rule} [{label}] -> {response.status_code} {text[:200]}"
                denied = any(permissions.get(res, {}).get(act, "none") == "none" for res, act in needs)
                if denied:
                    assert response.status_code == 403, where
                elif record_id is not None:
                    resource, action = needs[0]
                    inside = reaches(permissions[resource][action], owner, member_id, world)
                    assert (response.status_code in API_ALLOWED) if inside else response.status_code == 404, where
                else:
                    assert response.status_code in API_ALLOWED, where
                view_scope = permissions["customers"]["view"]
                for lbl, (rid, name, rowner) in records.items():
                    if not reaches(view_scope, rowner, member_id, world):
                        assert name not in text, where
                        assert row_of(app, world, rid) == before[lbl], where
                if needs and owned:  # nor is another's order, deal or follow-up
                    scope = permissions.get(needs[0][0], {}).get(needs[0][1], "none")
                    for lbl, (rid, _secret, rowner) in owned.items():
                        if lbl != label and not reaches(scope, rowner, member_id, world):
                            assert row_of(app, world, rid, OWNED[param][1]) == owned_before[lbl], where
                checked += 1
    assert checked > 15
