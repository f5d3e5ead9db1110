"""Message templates: the tenant's own wording per kind, channel and language, else the defaults below.

Templates are plain text with Jinja variables, rendered in a sandbox: a tenant admin may write them, so they
reach nothing but their variables. The HTML part of an email, and the inbox, show that text escaped (values
and all), so a customer called "<script>" is shown, never run; only then are its http(s) addresses made links."""
import re
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from crm.notify.models import Notification
from crm.settings import get_setting

TEXT = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
# An http(s) address in text already escaped: the characters a URL may hold, "&" only as the "&amp;" escaping
# made of it, so an escaped quote or "<" ends the address; so does any non-ASCII letter ("链接：https://…。").
ADDRESS = re.compile(r"https?://(?:[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%]|&amp;)+")
# What ends a sentence more often than an address: left outside the link.
TRAILING = re.compile(r"(?:[.,;:!?)\]]|&amp;)+$")

# (kind, language) -> (subject, body). Variables are listed in VARIABLES.
DEFAULTS = {
    ("reminder", "en"): ("Reminder: {{ method }} {{ customer }}",
                         "{{ method }} {{ customer }} at {{ due }}.\n{{ summary }}\n{{ link }}"),
    ("reminder", "zh"): ("提醒：{{ method }} {{ customer }}",
                         "{{ due }} {{ method }} {{ customer }}。\n{{ summary }}\n{{ link }}"),
    ("order_status", "en"): ("Your order {{ number }} is {{ status }}",
                             "Hello {{ customer }}, your order {{ number }} from {{ company }} is {{ status }}. "
                             "Follow it here: {{ link }}"
                             "{% if pay_link is defined and pay_link %}\nPay online: {{ pay_link }}{% endif %}"),
    ("order_status", "zh"): ("您的订单 {{ number }} {{ status }}",
                             "{{ customer }}您好，您在{{ company }}的订单 {{ number }} {{ status }}。"
                             "查看进度：{{ link }}"
                             "{% if pay_link is defined and pay_link %}\n在线支付：{{ pay_link }}{% endif %}"),
    ("ticket_reply", "en"): ("Re: {{ subject }} [{{ number }}]",
                             "Hello {{ customer }},\n\n{{ body }}\n\n{{ agent }}, {{ company }}\n"
                             "(your request {{ number }})"),
    ("ticket_reply", "zh"): ("回复：{{ subject }} [{{ number }}]",
                             "{{ customer }}您好：\n\n{{ body }}\n\n{{ company }} {{ agent }}\n（您的工单 {{ number }}）"),
    ("ticket_survey", "en"): ("How did we do? {{ number }} is closed",
                              "Hello {{ customer }}, your request {{ number }} \"{{ subject }}\" with {{ company }} "
                              "is closed. How satisfied are you? Rate us from 1 to 5 here (the link works for "
                              "{{ days }} days): {{ link }}"),
    ("ticket_survey", "zh"): ("工单 {{ number }} 已关闭，请您评价",
                              "{{ customer }}您好，您在{{ company }}的工单 {{ number }}「{{ subject }}」已关闭。"
                              "请为我们的服务打分（1-5 分，链接 {{ days }} 天内有效）：{{ link }}"),
    ("campaign", "en"): ("{{ subject }}", "{{ body }}\n\nUnsubscribe: {{ unsubscribe }}"),
    ("campaign", "zh"): ("{{ subject }}", "{{ body }}\n\n退订：{{ unsubscribe }}"),
    ("quiet_customers", "en"): ("{{ count }} customers need a follow-up",
                                "These customers have had no follow-up for {{ days }} days or more:\n"
                                "{{ customers }}\n{{ link }}"),
    ("quiet_customers", "zh"): ("{{ count }} 位客户需要跟进",
                                "以下客户已有 {{ days }} 天或更久没有跟进：\n{{ customers }}\n{{ link }}"),
    ("invitation", "en"): ("Join {{ workspace }} on the CRM",
                           "{{ inviter }} invited you to join {{ workspace }} on the CRM.\n\n"
                           "Accept within {{ days }} days:\n{{ link }}"),
    ("invitation", "zh"): ("加入 CRM 上的{{ workspace }}",
                           "{{ inviter }}邀请您加入 CRM 上的{{ workspace }}。\n\n请在 {{ days }} 天内接受邀请：\n{{ link }}"),
    ("digest", "en"): ("Your day: {{ overdue }} overdue, {{ today }} due today",
                       "Overdue: {{ overdue }}. Due today: {{ today }}.\n{{ items }}\n{{ link }}"),
    ("digest", "zh"): ("今日：{{ overdue }} 项逾期，{{ today }} 项今天到期",
                       "逾期：{{ overdue }}。今天到期：{{ today }}。\n{{ items }}\n{{ link }}"),
    ("summary", "en"): ("Your numbers for {{ period }}", "Your numbers for {{ period }}:\n{{ numbers }}\n{{ link }}"),
    ("summary", "zh"): ("{{ period }} 的业绩摘要", "{{ period }} 的业绩摘要：\n{{ numbers }}\n{{ link }}"),
    ("import_done", "en"): ("Import of {{ file }} done",
                            "Your import of {{ file }} is done: {{ created }} added, {{ updated }} updated, "
                            "{{ errors }} rows with errors.\n{{ link }}"),
    ("import_done", "zh"): ("{{ file }} 导入完成",
                            "{{ file }} 已导入完成：新增 {{ created }} 条，更新 {{ updated }} 条，{{ errors }} 行有错误。\n{{ link }}"),
    ("export_ready", "en"): ("Your export of {{ list }} is ready",
                             "{{ list }}: {{ rows }} rows as {{ format }}. Download it within {{ hours }} hours "
                             "(signed in as you):\n{{ link }}"),
    ("export_ready", "zh"): ("{{ list }}导出已完成",
                             "{{ list }}：{{ rows }} 行，{{ format }} 格式。请在 {{ hours }} 小时内下载（需以您本人登录）：\n{{ link }}"),
    ("workspace_export_ready", "en"): ("The export of {{ workspace }} is ready",
                                       "Everything in {{ workspace }}: {{ rows }} rows and {{ files }} files in "
                                       "one ZIP archive. Download it within {{ days }} days (signed in as you):\n"
                                       "{{ link }}"),
    ("workspace_export_ready", "zh"): ("{{ workspace }}的全部数据已导出",
                                       "{{ workspace }}的全部数据：{{ rows }} 行记录和 {{ files }} 个文件，打包为一个 ZIP 文件。"
                                       "请在 {{ days }} 天内下载（需以您本人登录）：\n{{ link }}"),
    ("webhook_disabled", "en"): ("Webhook to {{ url }} disabled",
                                 "The webhook subscription for {{ url }} failed {{ failures }} times in a row and was "
                                 "disabled. Its events are held until you enable it again:\n{{ link }}"),
    ("webhook_disabled", "zh"): ("发往 {{ url }} 的 Webhook 已停用",
                                 "发往 {{ url }} 的 Webhook 订阅连续失败 {{ failures }} 次，已停用。重新启用前，其事件会保留：\n{{ link }}"),
}
VARIABLES = {
    "reminder": ("method", "customer", "due", "summary", "link"),
    "order_status": ("customer", "company", "number", "status", "link", "pay_link"),
    "ticket_reply": ("customer", "company", "number", "subject", "body", "agent"),
    "ticket_survey": ("customer", "company", "number", "subject", "link", "days"),
    "campaign": ("subject", "body", "customer", "unsubscribe"),
    "quiet_customers": ("count", "days", "customers", "link"),
    "digest": ("overdue", "today", "items", "link"),
    "invitation": ("inviter", "workspace", "days", "link"),
    "summary": ("period", "numbers", "link"),
    "import_done": ("file", "created", "updated", "errors", "link"),
    "export_ready": ("list", "rows", "format", "hours", "link"),
    "webhook_disabled": ("url", "failures", "link"),
    "workspace_export_ready": ("workspace", "rows", "files", "days", "link"),
}


@dataclass
class Message:
    subject: str
    text: str
    html: str


class TemplateProblem(ValueError):
    """A tenant's template that cannot be rendered (unknown variable, syntax error)."""


# The tenant's own wordings: the setting TEMPLATES_SETTING holds {template_key(): {"subject", "body"}} (a setting,
# not a table: issue 19 counts the relations of every tenant schema). Read once a transaction (get_setting).
TEMPLATES_SETTING = "message_templates"


def template_key(kind: str, channel: str, language: str) -> str:
    return f"{kind}:{channel}:{language}"


def own_templates() -> dict[str, dict]:
    return get_setting(TEMPLATES_SETTING) or {}


def template_for(kind: str, channel: str, language: str) -> tuple[str, str]:
    """The tenant's subject and body for this kind/channel/language (or for any channel), else the default in that
    language."""
    own = own_templates()
    found = own.get(template_key(kind, channel, language)) or own.get(template_key(kind, "any", language))
    if found is not None:
        return found["subject"], found["body"]
    return DEFAULTS.get((kind, language)) or DEFAULTS[(kind, "en")]


def render_text(subject: str, body: str, values: dict) -> Message:
    """Render a subject and body with `values`; the HTML part is the text, escaped."""
    try:
        text = TEXT.from_string(body).render(values)
        rendered_subject = TEXT.from_string(subject).render(values).replace("\n", " ").strip()
    except TemplateError as error:
        raise TemplateProblem(str(error)) from error
    return Message(rendered_subject, text, f"<!doctype html><html><body>{paragraphs(text)}</body></html>")


def paragraphs(text: str) -> Markup:
    """Plain message text as HTML: a paragraph per blank-line-separated block, its lines kept, escaped, and each
    http(s) address a link."""
    blocks = [block for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(Markup("<br>\n").join(map(linked, block.split("\n"))))
                             for block in blocks)


def linked(line: str) -> Markup:
    """One line escaped first, then each http(s) address in it wrapped in a link to itself."""
    return Markup(ADDRESS.sub(_link, str(escape(line))))


def _link(match: re.Match) -> str:
    address = match[0]
    trailing = TRAILING.search(address)
    address, tail = (address[:trailing.start()], trailing[0]) if trailing else (address, "")
    if address.rstrip("/") in ("http:", "https:"):
        return match[0]
    return f'<a href="{address}" rel="noopener noreferrer">{address}</a>{tail}'


def render(notification: Notification) -> Message:
    subject, body = template_for(notification.kind, notification.channel, notification.language)
    values = {name: "" for name in VARIABLES.get(notification.kind, ())}
    values.update(notification.payload)
    return render_text(subject, body, values)
