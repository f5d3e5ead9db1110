"""What the route walkers share (tests/test_permissions.py, tests/test_hostile.py): a tenant with a member per
default role in team East, and fresh records of every kind a route takes an id of, owned by the actor, a teammate
or a member of team West, so a walker fills any rule's path from app.url_map without listing routes."""
import uuid

from sqlalchemy import select

from crm.extensions import db, utcnow
from crm.members.models import Member, Role, Team
from crm.members.permissions import DEFAULT_ROLES
from tenants.models import Invitation
from tests.conftest import TenantInfo, unique

ROLES = [role["key"] for role in DEFAULT_ROLES]


def make_world(app) -> dict:
    """One tenant with teams East and West, a member per role in East, and things for ids to point at."""
    from crm.accounts import service as accounts
    from crm.accounts.models import Account
    from crm.accounts.service import hash_password
    from tenants.binding import tenant_bound
    from tenants.models import Membership

    with app.app_context():
        slug = unique()
        account, tenant = accounts.sign_up("Perm Co", slug, "Owner", f"owner@{slug}.example", "password-123", "en")
        db.session.commit()
        info = TenantInfo(tenant.id, slug, tenant.name, account.id, 0)
        made = {}
        # Accounts are made outside the tenant's transaction, as the app makes them: it may not insert any.
        logins = {}
        for name in [f"Actor {key}" for key in ROLES] + ["Teammate", "Outsider"]:
            logins[name] = Account(email=f"{unique('p')}@example.com", name=name, password_hash=hash_password("x" * 10))
            db.session.add(logins[name])
            db.session.flush()
            db.session.add(Membership(account_id=logins[name].id, tenant_id=tenant.id))
        db.session.commit()
        logins = {name: (acc.id, acc.email) for name, acc in logins.items()}
        with tenant_bound(info.ref):
            east, west = Team(name="East"), Team(name="West")
            db.session.add_all([east, west])
            db.session.flush()
            roles = dict(db.session.execute(select(Role.key, Role.id)).all())

            def member(name, role, team):
                acc_id, email = logins[name]
                m = Member(account_id=acc_id, role_id=roles[role], team_id=team.id, name=name, email=email)
                db.session.add(m)
                db.session.flush()
                return acc_id, m.id

            made["actors"] = {key: member(f"Actor {key}", key, east) for key in ROLES}
            made["teammate"] = member("Teammate", "sales_rep", east)[1]
            made["outsider"] = member("Outsider", "sales_rep", west)[1]
            east.manager_id = made["actors"]["sales_manager"][1]
            made["east"] = [m for _a, m in made["actors"].values()] + [made["teammate"]]
            made["west_team"], made["rep_role"] = west.id, roles["sales_rep"]
    made["tenant"] = info
    return made


def make_victims(app, world) -> dict:
    """A fresh tag, team, role, member and invitation for routes that take their ids (some delete them)."""
    from crm.customers.models import Tag
    from crm.fields.models import CustomField
    from crm.deals import stages
    from crm.imports.models import ImportMapping
    from crm.notify.models import Notification
    from crm.pool.models import RecycleRule
    from crm.products.models import Product
    from tenants.binding import tenant_bound

    with app.app_context():
        with tenant_bound(world["tenant"].ref):
            suffix = uuid.uuid4().hex[:8]
            role, team, tag = (Role(key=f"custom-{suffix}", name=f"Role {suffix}", permissions={}),
                               Team(name=f"Team {suffix}"), Tag(name=f"tag-{suffix}", color="red"))
            victim = Member(account_id=-int(suffix, 16) % 2**30, role_id=world["rep_role"],
                            team_id=world["west_team"], name=f"Victim {suffix}", email=f"{suffix}@victim.example")
            field = CustomField(key=f"f_{suffix}", type="text", label_en=f"Field {suffix}", options=[])
            recycle_rule = RecycleRule(name=f"Rule {suffix}", kind="no_follow_up", days=10, levels=[], tag_ids=[])
            product = Product(name=f"Product {suffix}", price=1)
            failed = Notification(channel="email", kind="reminder", recipient="x@example.com", status="failed",
                                  idempotency_key=f"perm:{suffix}", payload={}, language="en", attempts=5)
            saved_mapping = ImportMapping(name=f"Mapping {suffix}", mapping={"name": "name"}, options={})
            db.session.add_all([role, team, tag, victim, field, recycle_rule, product, failed, saved_mapping])
            db.session.flush()
            ids = {"role_id": role.id, "team_id": team.id, "tag_id": tag.id, "member_id": victim.id,
                   "field_id": field.id, "rule_id": recycle_rule.id, "product_id": product.id,
                   "notification_id": failed.id, "mapping_id": saved_mapping.id}
            ids.update(_webhook(suffix))
            pipeline = stages.create_pipeline({"name_en": f"Pipeline {suffix}"})
            ids.update(pipeline_id=pipeline.id, stage_id=stages.stages(pipeline.id)[1].id)
        invitation = Invitation(tenant_id=world["tenant"].id, email=f"{suffix}@invite.example", role_id=ids["role_id"],
                                token_hash=uuid.uuid4().hex, invited_by="test", expires_at=utcnow())
        db.session.add(invitation)
        db.session.commit()
        ids["invitation_id"] = invitation.id
        ids.update(_backup_and_job(world["tenant"].id))
    return ids


def _backup_and_job(tenant_id: int) -> dict:
    """A stored "backup" of the tenant (any bytes: routes that read it as an archive check a form first), and a backup
    job and an export job of its Data page, never run."""
    import io

    from rq.job import Job

    from crm.backups.jobs import backup_now
    from crm.backups.service import backup_storage
    from crm.extensions import redis_connection
    from crm.storage import new_key
    from crm.workspace_export.jobs import export_everything

    key = new_key()
    backup_storage(f"t_{tenant_id}").put(key, io.BytesIO(b"not an archive"))
    job = Job.create(backup_now, args=(tenant_id, 0), meta={"tenant_id": tenant_id}, connection=redis_connection())
    job.save()
    export_job = Job.create(export_everything, args=(tenant_id, 0), meta={"tenant_id": tenant_id},
                            connection=redis_connection())
    export_job.save()
    return {"backup_key": key, "job_id": job.id, "export_job_id": export_job.id}


def _webhook(suffix: str) -> dict:
    """A webhook subscription with one failed delivery (for its page, its buttons and replay)."""
    from crm.webhooks import service
    from crm.webhooks.models import WebhookDelivery, WebhookSubscription

    # A closed local port: the walkers' customers queue deliveries to it, which fail at once wherever they are run.
    subscription = WebhookSubscription(url=f"http://127.0.0.1:9/hook/{suffix}", events=["customer.created"],
                                       secret_enc=service.encrypt("whsec_x", service.secret_context()), enabled=True,
                                       failures=0)
    db.session.add(subscription)
    db.session.flush()
    delivery = WebhookDelivery(subscription_id=subscription.id, event_id=f"evt_{suffix}", type="customer.created",
                               payload={"id": f"evt_{suffix}"}, status="failed", attempts=8)
    db.session.add(delivery)
    db.session.flush()
    return {"subscription_id": subscription.id, "delivery_id": delivery.id}


def make_records(app, world, actor_member):
    """Fresh customers owned by the actor, a teammate and an outsider; returns {label: (id, name, owner)}."""
    from crm.customers.models import Customer
    from tenants.binding import tenant_bound

    records = {}
    with app.app_context(), tenant_bound(world["tenant"].ref):
        for label, owner in (("own", actor_member), ("team", world["teammate"]), ("other", world["outsider"])):
            name = f"{label}-{uuid.uuid4().hex[:8]}"
            customer = Customer(name=name, owner_id=owner, kind="person", stage="lead", custom={},
                                id_number_enc=None)
            db.session.add(customer)
            db.session.flush()
            records[label] = (customer.id, name, owner)
        from crm.customers import writes
        viewer = db.session.get(Member, actor_member)
        for customer_id, _name, _owner in records.values():  # a sensitive value, so reveal has something to show
            writes.update_customer(db.session.get(Member, world["actors"]["admin"][1]),
                                   db.session.get(Customer, customer_id), {"id_number": "110101199003071234"},
                                   partial=True)
        assert viewer is not None
    return records


def _ticket(customer_id: int, owner: int) -> object:
    from crm.tickets.models import Ticket

    return Ticket(customer_id=customer_id, subject="Permission ticket", kind="inquiry", priority="normal",
                  status="open", owner_id=owner, due_at=utcnow())


def _comment(customer_id: int, owner: int) -> object:
    """An internal note on a new ticket of the owner's."""
    from crm.tickets.models import TicketComment

    ticket = _ticket(customer_id, owner)
    db.session.add(ticket)
    db.session.flush()
    return TicketComment(ticket_id=ticket.id, author_id=owner, author_name="Permission", body="Note", internal=True)


def _activity(customer_id: int, owner: int) -> object:
    from crm.followups.models import Activity

    return Activity(customer_id=customer_id, owner_id=owner, method="call", summary="Permission call", outcome="",
                    due_at=utcnow())


def _deal(customer_id: int, owner: int) -> object:
    from crm.deals.models import Deal, Stage

    lead = db.session.scalar(select(Stage).where(Stage.kind == "open").order_by(Stage.pipeline_id, Stage.position))
    return Deal(title="Permission deal", customer_id=customer_id, pipeline_id=lead.pipeline_id, stage_id=lead.id,
                currency="CNY", owner_id=owner, probability=10, status="open")


def _order(customer_id: int, owner: int) -> object:
    from crm.orders.models import Order

    return Order(customer_id=customer_id, owner_id=owner, currency="CNY", status="placed")


def _campaign(customer_id: int, owner: int) -> object:
    from crm.campaigns.models import Campaign

    return Campaign(name="Permission campaign", channel="email", language="en", subject="Hi", body="Hello",
                    audience={}, status="draft", owner_id=owner, cursor=0, queued=0, opted_out=0, no_address=0)


# Routes that take one of these ids act on a record with an owner: each role is checked against records owned
# by itself, a teammate and an outsider, like customers. Each maker builds the record on the owner's customer.
def _import(_customer_id: int, owner: int) -> object:
    """An uploaded file waiting for its mapping (a real CSV, so reading it again works)."""
    import tempfile
    from dataclasses import asdict

    from crm.imports.models import Import
    from crm.imports.reading import FileInfo
    handle, path = tempfile.mkstemp(suffix=".csv")
    with open(handle, "w", encoding="utf-8") as out:
        out.write("name,phone\nPermission,13800000000\n")
    info = FileInfo("csv", ["name", "phone"], [["Permission", "13800000000"]], encoding="utf-8", delimiter=",")
    return Import(member_id=owner, kind="customers", file_name="permission.csv", file_path=path,
                  file_info=asdict(info), mapping={}, options={}, status="uploaded", counts={})


def _file_on(kind: str, make_record=None):
    """A maker of a stored file (a small PNG) on a record of `kind`: the owner's customer itself, or a new record
    made by `make_record` on it."""
    def make(customer_id: int, owner: int) -> object:
        import hashlib
        import io

        from PIL import Image

        from crm import storage
        from crm.attachments.models import Attachment
        from crm.attachments.service import workspace_storage

        record_id = customer_id
        if make_record is not None:
            record = make_record(customer_id, owner)
            db.session.add(record)
            db.session.flush()
            record_id = record.id
        out = io.BytesIO()
        Image.new("RGB", (4, 4)).save(out, "PNG")
        key, body = storage.new_key(), out.getvalue()
        workspace_storage().put(key, io.BytesIO(body))
        return Attachment(kind=kind, **{"customer_id": customer_id, f"{kind}_id": record_id}, name="permission.png",
                          size=len(body), content_type="image/png", sha256=hashlib.sha256(body).hexdigest(),
                          storage_key=key, thumbnail=body, has_thumbnail=True, uploaded_by_name="Permission")
    return make


def _api_token(_customer_id: int, owner: int) -> object:
    """A personal API token (its secret unknown: only the routes that show or revoke it are walked)."""
    from datetime import timedelta

    from crm.api.models import ApiToken

    return ApiToken(member_id=owner, name="Permission token", token_hash=uuid.uuid4().hex * 2, hint="abcd",
                    expires_at=utcnow() + timedelta(days=1))


def _integration(_customer_id: int, owner: int) -> object:
    """An integration's token (its member has the owner's role; integrations are the workspace's, not the owner's)."""
    from datetime import timedelta

    from crm.api.models import ApiToken

    member = Member(kind="integration", account_id=None, role_id=db.session.get(Member, owner).role_id,
                    name="Permission integration", email="")
    db.session.add(member)
    db.session.flush()
    return ApiToken(member_id=member.id, name="Permission integration", token_hash=uuid.uuid4().hex * 2,
                    hint="abcd", expires_at=utcnow() + timedelta(days=1))


def _contact(customer_id: int, _owner: int) -> object:
    """A contact of the owner's customer: it goes as far as its customer, so its owner is the customer's."""
    from crm.contacts.models import Contact

    return Contact(customer_id=customer_id, name=f"Contact {uuid.uuid4().hex[:8]}", is_primary=False)


def _saved_view(_customer_id: int, owner: int) -> object:
    """A private saved view of the customer list (only its owner sees it: 404 for anyone else)."""
    from crm.saved_views.models import SavedView

    return SavedView(list="customers", name=f"View {uuid.uuid4().hex[:8]}", owner_id=owner, shared=False,
                     query={"stage": ["lead"]}, names={})


OWNED = {"view_id": (_saved_view, "saved_views"), "contact_id": (_contact, "contacts"),
         "token_id": (_api_token, "api_tokens"), "integration_id": (_integration, "api_tokens"), "import_id": (_import, "imports"), "deal_id": (_deal, "deals"), "order_id": (_order, "orders"), "ticket_id": (_ticket, "tickets"),
         "activity_id": (_activity, "activities"), "campaign_id": (_campaign, "campaigns"),
         "customer_file_id": (_file_on("customer"), "attachments"), "deal_file_id": (_file_on("deal", _deal), "attachments"),
         "order_file_id": (_file_on("order", _order), "attachments"),
         "ticket_file_id": (_file_on("ticket", _ticket), "attachments"),
         "activity_file_id": (_file_on("activity", _activity), "attachments"),
         "ticket_comment_id": (_comment, "ticket_comments"),
         "ticket_comment_file_id": (_file_on("ticket_comment", _comment), "attachments")}
# A ticket may have no assignee: team scopes reach it (so a team can pick it up), own scopes do not.
UNASSIGNED = {"ticket_id", "ticket_file_id"}


def make_owned(app, world, param: str, records: dict) -> dict:
    """For `param`, a record owned by each of own/team/other (and none where a record may have no owner):
    {label: (id, "", owner)}."""
    from tenants.binding import tenant_bound

    make = OWNED[param][0]
    owners = {label: (customer_id, owner) for label, (customer_id, _name, owner) in records.items()}
    if param in UNASSIGNED:
        owners["none"] = (records["own"][0], None)
    made = {}
    with app.app_context(), tenant_bound(world["tenant"].ref):
        for label, (customer_id, owner) in owners.items():
            record = make(customer_id, owner)
            db.session.add(record)
            db.session.flush()
            made[label] = (record.id, "", owner)
    return made


def fill(rule, world, target: dict, victims) -> dict:
    values = {"slug": world["tenant"].slug, "name": "company", **victims, **target}
    if rule.endpoint == "customers.reveal":
        values["name"] = "id_number"
    return {k: v for k, v in values.items() if k in rule.arguments}
