"""The profile page: each member's own page in a workspace (from the user menu), with their name, mobile number,
reminder channels, and the account's language and password."""
from flask import g, request
from flask_babel import gettext as _

from crm import registry
from crm.accounts.forms import ChangePasswordForm
from crm.followups.service import digest_wanted
from crm.notify.service import available_channels
from crm.profile import service
from crm.profile.forms import CHANNEL_LABELS, FIELD_LABELS, channel_names
from crm.web import on_invalid, render, saved
from crm.workspace import digest as summaries
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("profile", __name__)
registry.plug(bp, registry.AuditEntity("member", fields=FIELD_LABELS, values={"notify_channels": channel_names}))


def _page(errors: dict | None = None):
    return render("profile/show.html", errors=errors or {}, typed=request.form if errors else None,
                  channels=available_channels(), channel_labels=CHANNEL_LABELS, digest=digest_wanted(g.member),
                  summaries=summaries.EVERY, summaries_wanted=summaries.wanted(g.member),
                  form=ChangePasswordForm(formdata=None))


@bp.get("/profile")
def show():
    """The signed-in member's profile in this workspace."""
    return _page()


@bp.post("/profile")
def update():
    """Save the name, mobile number, reminder channels and chosen summaries."""
    on_invalid(lambda error: _page(error.errors))
    service.update_profile(g.member, request.form)
    return saved(_("Your profile is saved."), "profile.show")
