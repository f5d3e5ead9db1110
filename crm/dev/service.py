"""What the development outbox shows an account: its own workspaces' messages and the emails sent to it."""
from sqlalchemy import func, select

from crm.accounts.models import Account, OutboundEmail
from crm.accounts.service import workspaces_of
from crm.extensions import db
from crm.members.access import active_member
from crm.notify.models import DevMessage
from tenants.binding import tenant_bound
from tenants.service import ref_of

SHOWN = 100


def messages_for(account: Account) -> list[DevMessage]:
    """The newest messages (reminders, invitations, order news, campaigns) of the workspaces where the account
    is an active member."""
    tenant_ids = [tenant.id for tenant in workspaces_of(account) if _active_in(tenant, account)]
    return list(db.session.scalars(select(DevMessage).where(DevMessage.tenant_id.in_(tenant_ids))
                                   .order_by(DevMessage.id.desc()).limit(SHOWN)))


def emails_to(account: Account) -> list[OutboundEmail]:
    """The newest platform emails (password resets, pool warnings) addressed to the account itself."""
    return list(db.session.scalars(select(OutboundEmail).where(func.lower(OutboundEmail.to_address) == account.email)
                                   .order_by(OutboundEmail.id.desc()).limit(SHOWN)))


def _active_in(tenant, account: Account) -> bool:
    with tenant_bound(ref_of(tenant)):
        return active_member(account.id) is not None
