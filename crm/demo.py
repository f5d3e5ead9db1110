"""The demo workspace: a company with a sales team and a few thousand realistic customers."""
import random
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import get_timezone
from sqlalchemy import insert, select

from crm.accounts.models import Account
from crm.accounts.service import create_workspace, hash_password
from crm.customers import addresses
from crm.customers.models import LEVELS, STAGES, Customer, Tag, customer_tags
from crm.extensions import db, utcnow
from crm.members.models import Member, Role
from tenants.binding import tenant_bound
from tenants.models import Membership, Tenant
from tenants.service import ref_of

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
TAGS = (("VIP", "red"), ("重点客户", "orange"), ("Newsletter", "blue"), ("展会", "green"), ("Partner", "purple"),
        ("老客户", "teal"), ("Follow up", "yellow"), ("Churn risk", "pink"))
REPS = (("王芳", "wang.fang@example.com"), ("Emily Chen", "emily.chen@example.com"), ("李强", "li.qiang@example.com"))
SOURCES = ("Website", "Referral", "展会", "Cold call", "WeChat", "Partner", "广告")

demo_cli = AppGroup("demo", help="The demo workspace.")


def _account(name: str, email: str) -> Account:
    account = Account(email=email, name=name, password_hash=hash_password(DEMO_PASSWORD), language="en")
    db.session.add(account)
    db.session.flush()
    return account


def seed_demo(customers: int = 2000, seed: int = 7) -> Tenant | None:
    """Create the demo tenant once; returns None when it already exists."""
    if db.session.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG)) is not None:
        return None
    admin = _account("Demo Admin", DEMO_EMAIL)
    tenant = create_workspace("Demo Trading Co. 演示贸易", DEMO_SLUG, admin)
    reps = [_account(name, email) for name, email in REPS]
    db.session.add_all(Membership(account_id=a.id, tenant_id=tenant.id) for a in reps)
    db.session.commit()
    with tenant_bound(ref_of(tenant)):
        rep_role = db.session.scalar(select(Role).where(Role.key == "sales_rep"))
        db.session.add_all(Member(account_id=a.id, role_id=rep_role.id, name=a.name, email=a.email) for a in reps)
        db.session.flush()
        owners = list(db.session.scalars(select(Member.id)))
        tags = [Tag(name=name, color=color) for name, color in TAGS]
        db.session.add_all(tags)
        db.session.flush()
        insert_customers(customers, owners, [t.id for t in tags], random.Random(seed))
        seed_sales(db.session.scalar(select(Member).where(Member.account_id == admin.id)), random.Random(seed))
    return tenant


DEAL_TITLES = ("年度采购", "Office fit-out", "展会样品", "Renewal 2027", "批量订单", "Pilot project", "设备升级",
               "Spare parts")
PRODUCTS = (("龙井茶 250g", "TEA-LJ-250", "盒", "128.00"), ("Office chair", "CHR-01", "pc", "899.00"),
            ("A4 paper 500", "PAP-A4", "ream", "24.50"), ("投影仪", "PRJ-4K", "台", "4999.00"))


def seed_sales(admin: Member, rng: random.Random) -> None:
    """Deals on the board, orders, tickets and the admin's follow-ups (some overdue, some due soon), made
    through the services so the timelines, histories and reminders are what real use would leave."""
    from crm.orders import service as orders
    from crm.orders.forms import LineInput
    from crm.deals import deals, stages
    from crm.products import service as products
    from crm.tickets import service as tickets

    customers = list(db.session.scalars(select(Customer.id).where(Customer.owner_id.is_not(None))
                                        .order_by(Customer.id).limit(80)))
    open_stages = [s.id for s in stages.stages(stages.pipelines()[0].id) if s.kind == "open"]
    for i, customer_id in enumerate(customers[:60]):
        deal = deals.create_deal(admin, {"title": DEAL_TITLES[i % len(DEAL_TITLES)], "customer_id": str(customer_id),
                                         "stage_id": str(rng.choice(open_stages)),
                                         "amount": str(rng.randrange(2000, 300000, 500)), "currency": "CNY",
                                         "owner_id": str(admin.id)})
        if i % 10 == 0:
            deals.mark_won(admin, deal)
    catalogue = [products.create_product({"name": n, "sku": sku, "unit": u, "price": p}) for n, sku, u, p in PRODUCTS]
    for i, customer_id in enumerate(customers[:20]):
        order = orders.create_order(admin, {"customer_id": str(customer_id)}, [
            LineInput(key="a", product_id=str(catalogue[i % 4].id), quantity=str(rng.randint(1, 20)), discount="5"),
            LineInput(key="b", description="运费 Shipping", quantity="1", unit_price="30")])
        if i % 3 == 0:
            orders.move_order(admin, order, "shipped")
    for i, customer_id in enumerate(customers[20:32]):
        tickets.create_ticket(admin, {"customer_id": str(customer_id), "subject": ("质量投诉", "Invoice question",
                                      "维修申请")[i % 3], "kind": ("complaint", "inquiry", "repair")[i % 3],
                                      "priority": ("high", "normal", "urgent")[i % 3], "description": ""})
    _follow_ups(admin, customers[32:44])


def _follow_ups(admin: Member, customers: list[int]) -> None:
    """Two overdue, the rest spread over today and the coming days; the first reminds within minutes."""
    from crm.followups import service as activities

    now = utcnow()
    offsets = [timedelta(days=-2), timedelta(hours=-3), timedelta(minutes=10), timedelta(hours=3), timedelta(days=1),
               timedelta(days=2), timedelta(days=4)]
    for customer_id, offset, method in zip(customers, offsets, ("call", "visit", "call", "wechat", "email", "meeting",
                                                                 "call")):
        due = (now + offset).astimezone(get_timezone()).strftime("%Y-%m-%dT%H:%M")
        activities.create(admin, {"mode": "plan", "customer_id": str(customer_id), "method": method,
                                  "summary": "跟进报价 Follow up on the quote", "due_at": due, "remind_minutes": "0"
                                  if offset == timedelta(minutes=10) else "15", "owner_id": str(admin.id)})


def fake_customers(count: int, owners: list[int], rng: random.Random):
    """Rows of realistic customers, about two thirds Chinese and one third English."""
    from faker import Faker

    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(rng.random())
    en.seed_instance(rng.random())
    now = utcnow()
    for i in range(count):
        chinese = rng.random() < 0.66
        fake = zh if chinese else en
        company = fake.company() if rng.random() < 0.8 else None
        created = now - timedelta(days=rng.randint(0, 900), minutes=rng.randint(0, 1440))
        yield {
            "kind": "company" if rng.random() < 0.15 else "person",
            "name": fake.name(),
            "phone": "+86" + zh.phone_number() if chinese or rng.random() < 0.5 else f"+1415555{rng.randint(0, 9999):04d}",
            "email": en.ascii_free_email() if rng.random() < 0.7 else None,
            "company": company,
            "title": fake.job()[:80] if rng.random() < 0.5 else None,
            **(_fake_address(fake, chinese, rng) if rng.random() < 0.6 else dict.fromkeys(addresses.PARTS)),
            "source": rng.choice(SOURCES),
            "level": rng.choice(LEVELS + (None,)),
            "stage": rng.choices(STAGES, weights=(4, 3, 5, 1))[0],
            "owner_id": rng.choice(owners + [None]),
            "created_at": created,
            "updated_at": created,
        }


def _fake_address(fake, chinese: bool, rng: random.Random) -> dict:
    """A structured address: in China a province, city and district from the region list; else in the US."""
    if chinese:
        region = rng.choice(addresses.provinces())
        city = rng.choice(addresses.cities(region) or [None])
        district = rng.choice(addresses.districts(region, city) or [None])
        return {"country": "CN", "region": region, "city": city, "district": district, "postcode": fake.postcode(),
                "street": fake.street_address()[:250]}
    return {"country": "US", "region": fake.state_abbr(), "city": fake.city()[:60], "district": None,
            "postcode": fake.zipcode(), "street": fake.street_address()[:250]}


def insert_customers(count: int, owners: list[int], tag_ids: list[int], rng: random.Random,
                     batch: int = 5000) -> None:
    """Insert `count` fake customers (and some tags on them) in batches, in the bound tenant."""
    rows = list(fake_customers(count, owners, rng))
    for row in rows:
        row["tag_ids"] = sorted(rng.sample(tag_ids, k=min(len(tag_ids), rng.choice((0, 0, 1, 1, 2, 3)))))
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        # render_nulls: rows with different missing fields still go in one multi-row INSERT, not one each.
        ids = db.session.scalars(insert(Customer).returning(Customer.id, sort_by_parameter_order=True)
                                 .execution_options(render_nulls=True), chunk).all()
        links = [{"customer_id": cid, "tag_id": tid} for cid, row in zip(ids, chunk) for tid in row["tag_ids"]]
        if links:
            db.session.execute(insert(customer_tags), links)


@demo_cli.command("seed")
@click.option("--customers", default=2000, show_default=True)
def seed_command(customers):
    """Create the demo workspace (once); never in production, where its published password would open it."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("The demo workspace signs in with a published password: not in production.")
    tenant = seed_demo(customers)
    db.session.commit()
    click.echo("demo workspace created" if tenant else "demo workspace already exists")
