"""What an import's file may hold besides customers: follow-ups, deals, orders or contacts, each row linked to a
customer by the match key. Per kind: the permission its records need, the fields a column can fill (the customer's
key first) and the headers guessed for them in Chinese and English."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from crm.imports.headers import SYNONYMS


@dataclass(frozen=True)
class Kind:
    name: str
    label: object  # what the upload page calls it
    resource: str  # the permission resource whose `adds` its records need (and `removes` for undo)
    fields: dict  # field key -> label
    synonyms: dict  # field key -> headers that name it, besides its labels
    list_endpoint: str  # where the imported records are seen
    entity: str | None = None  # whose custom fields a column can fill (crm.fields), if any
    adds: str = "create"
    removes: str = "delete"
    customer_action: str = "view"  # what the importer's scope must allow on each row's customer


# The customer's match keys as a linked file names them (the same keys as customer fields, so match keys are made
# and matched as for customers).
CUSTOMER_KEYS = {"name": _l("Customer's name"), "company": _l("Customer's company"), "phone": _l("Customer's phone"),
                 "email": _l("Customer's email"), "external_id": _l("Customer's external ID")}
CUSTOMER_SYNONYMS = {
    "name": ["客户", "客户名称", "客户姓名", "姓名", "联系人", "customer", "customer name", "contact", "contact name"],
    "company": [*SYNONYMS["company"], "客户公司", "customer company"],
    "phone": [*SYNONYMS["phone"], "客户手机", "客户电话", "customer phone", "customer mobile"],
    "email": [*SYNONYMS["email"], "客户邮箱", "customer email"],
    "external_id": ["客户编号", "外部编号", "customer id", "external id", "customer external id"],
}
OWNER = ["负责人", "销售", "业务员", "销售人员", "owner", "sales rep", "salesperson"]
MATCH_ON = ("phone", "email", "name_company", "external_id")  # no ID number: a history file has none
# A contacts file names the person in the plain headers ("姓名", "手机", "邮箱"): its customer goes by the company's.
CONTACT_CUSTOMER_SYNONYMS = {
    "name": ["客户", "客户名称", "公司", "公司名称", "单位", "单位名称", "企业名称", "customer", "customer name", "company",
             "company name", "account", "account name", "organisation", "organization"],
    "company": ["客户公司", "customer company"],
    "phone": ["客户电话", "客户手机", "公司电话", "总机", "customer phone", "company phone"],
    "email": ["客户邮箱", "公司邮箱", "customer email", "company email"],
    "external_id": CUSTOMER_SYNONYMS["external_id"],
}

KINDS = {
    "activities": Kind(
        "activities", _l("Follow-ups"), "activities",
        {**CUSTOMER_KEYS, "method": _l("Method"), "summary": _l("Summary"), "outcome": _l("Outcome"),
         "done_at": _l("Done at"), "due_at": _l("Due"), "owner": _l("Owner"), "created_at": _l("Created")},
        {**CUSTOMER_SYNONYMS, "method": ["跟进方式", "方式", "跟进类型", "类型", "method", "type", "kind", "channel"],
         "summary": ["跟进内容", "内容", "摘要", "主题", "备注", "跟进记录", "summary", "content", "subject", "note",
                     "notes"],
         "outcome": ["跟进结果", "结果", "outcome", "result"],
         "done_at": ["跟进时间", "完成时间", "时间", "日期", "done", "done at", "date", "time", "completed at"],
         "due_at": ["计划时间", "到期时间", "下次跟进时间", "due", "due at", "planned", "planned at"],
         "owner": [*OWNER, "跟进人"], "created_at": ["创建时间", "created", "created at"]},
        "followups.index"),
    "deals": Kind(
        "deals", _l("Deals"), "deals",
        {**CUSTOMER_KEYS, "title": _l("Title"), "pipeline": _l("Pipeline"), "stage": _l("Stage"),
         "amount": _l("Amount"), "expected_close": _l("Expected close"), "owner": _l("Owner"),
         "created_at": _l("Created"), "notes": _l("Notes"), "lost_reason": _l("Lost reason")},
        {**CUSTOMER_SYNONYMS, "title": ["商机名称", "商机", "名称", "标题", "项目名称", "deal", "deal name", "title",
                                        "name"],
         "pipeline": ["销售管道", "管道", "销售流程", "pipeline"], "stage": ["阶段", "商机阶段", "销售阶段", "stage"],
         "amount": ["金额", "商机金额", "预计金额", "amount", "value", "deal value"],
         "expected_close": ["预计成交日期", "预计成交时间", "成交日期", "expected close", "close date"],
         "owner": OWNER, "created_at": ["创建时间", "创建日期", "created", "created at"],
         "notes": ["备注", "notes", "note"], "lost_reason": ["输单原因", "lost reason"]},
        "deals.index", "deal"),
    "orders": Kind(
        "orders", _l("Orders"), "orders",
        {**CUSTOMER_KEYS, "number": _l("Order number"), "status": _l("Status"), "created_at": _l("Order date"),
         "product": _l("Product"), "quantity": _l("Quantity"), "unit_price": _l("Unit price"),
         "amount": _l("Amount"), "owner": _l("Owner"), "notes": _l("Notes")},
        {**CUSTOMER_SYNONYMS, "number": ["订单编号", "订单号", "单号", "order number", "order no", "number"],
         "status": ["订单状态", "状态", "status", "order status"],
         "created_at": ["下单日期", "下单时间", "订单日期", "日期", "创建时间", "order date", "date", "created"],
         "product": ["产品", "产品名称", "商品", "商品名称", "product", "product name", "item"],
         "quantity": ["数量", "quantity", "qty"], "unit_price": ["单价", "unit price", "price"],
         "amount": ["金额", "订单金额", "总金额", "总价", "amount", "total", "order total"],
         "owner": OWNER, "notes": ["备注", "notes", "note"]},
        "orders.index", "order"),
    # A contact is added as far as its customer may be edited (crm/contacts/service.py): customers edit, in scope.
    "contacts": Kind(
        "contacts", _l("Contacts"), "customers",
        {**CUSTOMER_KEYS, "contact_name": _l("Name"), "title": _l("Title"), "mobile": _l("Mobile"),
         "contact_phone": _l("Office phone"), "contact_email": _l("Email"), "wechat": _l("WeChat ID"),
         "notes": _l("Notes"), "primary": _l("Primary contact")},
        {**CONTACT_CUSTOMER_SYNONYMS,
         "contact_name": ["姓名", "联系人", "联系人姓名", "名字", "name", "full name", "contact", "contact name",
                          "person"],
         "title": ["联系人职位", "职位", "职务", "头衔", "title", "job title", "position"],
         "mobile": ["联系人手机", "联系人手机号", "手机", "手机号", "手机号码", "移动电话", "mobile", "mobile phone",
                    "mobile number", "cell", "cell phone"],
         "contact_phone": ["联系人电话", "电话", "座机", "办公电话", "固定电话", "联系电话", "phone", "office phone",
                           "work phone", "tel", "telephone", "landline"],
         "contact_email": ["联系人邮箱", "邮箱", "电子邮箱", "邮件", "email", "e-mail", "email address"],
         "wechat": ["联系人微信", "微信", "微信号", "wechat", "wechat id", "weixin"],
         "notes": ["备注", "notes", "note", "remarks"],
         "primary": ["主要联系人", "首要联系人", "主联系人", "是否主要联系人", "primary", "primary contact", "main contact"]},
        "customers.index", adds="edit", removes="edit", customer_action="edit"),
}
