"""Settings > Messaging: the email sender, the SMS provider, the chat bots and quiet hours, each section with a
button that sends a test message through the real channel right away."""
from dataclasses import dataclass

from flask import current_app, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField

from crm import registry
from crm.errors import Invalid
from crm.extensions import db
from crm.members.access import require
from crm.notify import channel_settings, channels
from crm.settings import time_zone_name
from crm.web import is_htmx, on_invalid, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("messaging", __name__, "/settings/messaging")
registry.plug(bp, registry.SettingsTab("messaging.index", _l("Messaging"), order=70, permission=("settings", "view"),
                                       current=("messaging.*",)))

PROVIDER_LABELS = {"": _l("Not set up (development outbox)"), "http": _l("HTTP API (generic)"),
                   "twilio": _l("Twilio"), "aliyun": _l("Aliyun SMS (阿里云短信)")}
BOT_LABELS = {"wecom": _l("WeCom group bot (企业微信)"), "dingtalk": _l("DingTalk group bot (钉钉)"),
              "feishu": _l("Feishu group bot (飞书)"), "webhook": _l("Outgoing webhook")}
KIND_LABELS = {"reminder": _l("Follow-up reminders"), "order_status": _l("Order status"),
               "campaign": _l("Campaigns"), "quiet_customers": _l("Customers without follow-up"),
               "digest": _l("Morning digest"), "default": _l("Any other message, and the test")}
SECRET = {"autocomplete": "new-password"}  # never let a browser fill in a sign-in password here


class _Form(FlaskForm):
    class Meta:
        csrf = False  # the app-wide CSRF check covers every POST; one token field per page is enough

    def data_for_service(self) -> dict:
        return dict(self.data)


class EmailForm(_Form):
    sender_name = StringField(_l("Sender name"))
    reply_to = StringField(_l("Reply-to address"))


class SmsForm(_Form):
    provider = SelectField(_l("Provider"), choices=list(PROVIDER_LABELS.items()), validate_choice=False)
    url = StringField(_l("API address"))
    auth_header = StringField(_l("Auth header"), default="Authorization")
    auth_value = PasswordField(_l("Auth header value"), render_kw=SECRET)
    account_sid = StringField(_l("Account SID"))
    auth_token = PasswordField(_l("Auth token"), render_kw=SECRET)
    sender = StringField(_l("Sender"))
    base_url = StringField(_l("API base address"))
    access_key_id = StringField(_l("AccessKey ID"))
    access_key_secret = PasswordField(_l("AccessKey secret"), render_kw=SECRET)
    sign_name = StringField(_l("Sign name (签名)"))
    region = StringField(_l("Region"))
    endpoint = StringField(_l("Endpoint"))


for _kind in channel_settings.TEMPLATE_KINDS:
    setattr(SmsForm, f"template_{_kind}", StringField(KIND_LABELS[_kind]))


class BotForm(_Form):
    url = StringField(_l("Webhook address"), render_kw={"autocomplete": "off"})
    secret = PasswordField(_l("Signing secret"), render_kw=SECRET)
    remove = BooleanField(_l("Switch this bot off"))


class QuietHoursForm(_Form):
    enabled = BooleanField(_l("Hold customer messages during quiet hours"))
    start = StringField(_l("From"), render_kw={"type": "time"})
    end = StringField(_l("Until"), render_kw={"type": "time"})


@dataclass
class Result:
    ok: bool
    message: str


@bp.get("/")
@require("settings", "view")
def index():
    """Messaging settings, one section per channel."""
    return _page()


@bp.get("/sms")
@require("settings", "edit")
def sms_fields():
    """The SMS section again with the fields of the provider just chosen."""
    return _section("sms", sms_form=SmsForm(formdata=request.args, prefix="sms"))


@bp.post("/email")
@require("settings", "edit")
def save_email():
    """Save the sender name and reply-to address of emails."""
    form = EmailForm(prefix="email")
    on_invalid(lambda error: _section("email", email_form=error.apply_to(form)))
    channel_settings.save_email(form.data_for_service())
    return saved(_("Email settings saved."), "messaging.index")


@bp.post("/sms")
@require("settings", "edit")
def save_sms():
    """Save the SMS provider; secrets left empty keep their saved value."""
    form = SmsForm(prefix="sms")
    on_invalid(lambda error: _section("sms", sms_form=error.apply_to(form)))
    channel_settings.save_sms(form.data_for_service())
    return saved(_("SMS settings saved."), "messaging.index")


@bp.post("/bots")
@require("settings", "edit")
def save_bot():
    """Save one chat bot's webhook address and signing secret (the form names the bot)."""
    channel = request.form.get("channel", "")
    if channel not in channel_settings.BOT_CHANNELS:
        return _result(channel, Result(False, _("Choose a chat bot from the list.")), 422)
    form = BotForm(prefix=channel)
    on_invalid(lambda error: _section("bot", bot_forms={channel: error.apply_to(form)}, channel=channel))
    channel_settings.save_bot(channel, form.data_for_service())
    return saved(_("%(bot)s saved.", bot=BOT_LABELS[channel]), "messaging.index")


@bp.post("/quiet-hours")
@require("settings", "edit")
def save_quiet_hours():
    """Save the quiet hours for customer messages, or switch them off."""
    form = QuietHoursForm(prefix="quiet")
    on_invalid(lambda error: _section("quiet", quiet_form=error.apply_to(form)))
    channel_settings.save_quiet_hours(form.data_for_service())
    return saved(_("Quiet hours saved."), "messaging.index")


@bp.post("/test")
@require("settings", "edit")
def send_test():
    """Send a test message through a channel now; the result (or the service's error) shows in its section."""
    from crm.notify.transport import ChannelError

    channel = request.form.get("channel", "")
    status = 200
    try:
        result = Result(True, channels.send_test(channel, g.member, request.form.get("phone", "")))
    except Invalid as error:
        result, status = Result(False, " ".join(error.errors.values())), 422
    except ChannelError as error:
        result = Result(False, _("The test message was not sent: %(error)s", error=str(error)))
    if result.ok:
        db.session.commit()  # the development outbox keeps the test email
    else:
        db.session.rollback()
    return _result(channel, result, status)


def _fragment() -> bool:
    return is_htmx() and not request.headers.get("HX-Boosted")


def _context(email_form=None, sms_form=None, bot_forms=None, quiet_form=None, results=None, **extra) -> dict:
    email = channel_settings.email_settings()
    quiet = channel_settings.quiet_hours()
    forms = {channel: BotForm(formdata=None, prefix=channel) for channel in channel_settings.BOT_CHANNELS}
    forms.update(bot_forms or {})
    return {
        "email_form": email_form or EmailForm(formdata=None, prefix="email", data=email),
        "sms_form": sms_form or SmsForm(formdata=None, prefix="sms", data=channel_settings.sms_values()),
        "bot_forms": forms,
        "quiet_form": quiet_form or QuietHoursForm(formdata=None, prefix="quiet", data={
            "enabled": bool(quiet), **(quiet or channel_settings.DEFAULT_QUIET_HOURS)}),
        "masks": channel_settings.secret_masks(),
        "bots_set_up": channel_settings.bots_set_up(),
        "results": results or {},
        "can_edit": g.member.can("settings", "edit"),
        "bot_channels": channel_settings.BOT_CHANNELS,
        "bot_labels": BOT_LABELS,
        "signed_bots": [c for c in channel_settings.BOT_CHANNELS if "secret" in channel_settings.BOT_SECRETS[c]],
        "template_kinds": channel_settings.TEMPLATE_KINDS,
        "smtp_configured": bool(current_app.config["SMTP_URL"]),
        "mail_from": current_app.config["MAIL_FROM"],
        "timezone": time_zone_name(),
        **extra,
    }


def _page(status: int = 200, **forms):
    return render_template("notify/settings.html", **_context(**forms)), status


def _section(name: str, **forms):
    """One section (htmx swaps it), or the whole page around it."""
    if _fragment():
        return render_template(f"notify/_settings_{name}.html", **_context(**forms))
    return _page(**forms)


def _result(channel: str, result: Result, status: int):
    """What a test send (or a request naming no known channel) came to, next to the channel's section."""
    if _fragment():
        return render_template("notify/_settings_result.html", result=result), status
    return _page(status, results={channel: result})
