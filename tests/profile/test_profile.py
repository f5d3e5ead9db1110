"""The profile page: each member's own name, mobile number and reminder channels in a workspace (audited), the
account's language and password from the same page, and the old "My notifications" address leading there."""
from sqlalchemy import select

from crm.accounts.models import Account
from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.members.models import Member
from tests.conftest import HX


def member_row(in_tenant, tenant, member_id):
    """(name, phone, notify_channels) as stored."""
    def read():
        member = db.session.get(Member, member_id)
        return member.name, member.phone, member.notify_channels
    return in_tenant(tenant, read)


def test_the_user_menu_leads_to_the_profile(acme, admin):
    page = admin.get(f"/{acme.slug}/")
    assert f'href="/{acme.slug}/profile">Your profile</a>' in page.text
    profile = admin.get(f"/{acme.slug}/profile")
    assert profile.status_code == 200 and "Your profile" in profile.text and 'value="Ada Admin"' in profile.text


def test_name_mobile_and_channels_are_saved_and_audited(acme, admin, in_tenant):
    answer = admin.post(f"/{acme.slug}/profile", data={"name": " Ada Lovelace ", "phone": "138 0013 8000",
                                                         "channels": ["email", "sms", "made-up"]})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/{acme.slug}/profile"
    assert member_row(in_tenant, acme, acme.admin_member_id) == ("Ada Lovelace", "+8613800138000", ["email", "sms"])
    page = admin.get(f"/{acme.slug}/profile")
    assert "Your profile is saved." in page.text and 'value="+86 138 0013 8000"' in page.text
    assert "<summary>Ada Lovelace</summary>" in page.text  # the others see this name in this workspace
    entry = in_tenant(acme, lambda: db.session.execute(select(
        AuditEntry.action, AuditEntry.summary, AuditEntry.changes).where(
        AuditEntry.entity == "member", AuditEntry.entity_id == acme.admin_member_id)
        .order_by(AuditEntry.id.desc())).first())
    assert entry[:2] == ("update", "Ada Lovelace")
    assert entry[2] == {"name": ["Ada Admin", "Ada Lovelace"], "phone": [None, "+8613800138000"],
                             "notify_channels": ["email", "email,sms"]}
    log = admin.get(f"/{acme.slug}/settings/audit/?entity=member").text
    assert "Mobile number" in log and "Reminders by" in log and "Email, SMS" in log


def test_the_mobile_number_is_read_in_the_workspaces_phone_region(acme, admin, in_tenant):
    from crm.settings import put_setting

    in_tenant(acme, lambda: put_setting("phone_region", "GB"))
    assert admin.post(f"/{acme.slug}/profile", data={"name": "Ada", "phone": "07911 123456"}).status_code == 303
    assert member_row(in_tenant, acme, acme.admin_member_id)[1] == "+447911123456"


def test_bad_input_is_refused_at_its_field_and_nothing_is_saved(acme, admin, in_tenant):
    before = member_row(in_tenant, acme, acme.admin_member_id)
    refused = admin.post(f"/{acme.slug}/profile", data={"name": "", "phone": "12ab", "channels": ["sms"]})
    assert refused.status_code == 422
    assert '<small class="error" id="phone-error">Enter a valid phone number' in refused.text
    assert '<small class="error" id="name-error">This field is required.' in refused.text
    assert 'value="12ab"' in refused.text  # what was typed stays
    no_phone = admin.post(f"/{acme.slug}/profile", data={"name": "Ada", "phone": "", "channels": ["sms"]})
    assert no_phone.status_code == 422 and "Enter your mobile number to get reminders by SMS." in no_phone.text
    too_long = admin.post(f"/{acme.slug}/profile", data={"name": "x" * 121, "phone": ""})
    assert too_long.status_code == 422 and "Use at most 120 characters." in too_long.text
    assert member_row(in_tenant, acme, acme.admin_member_id) == before


def test_each_member_changes_only_their_own_profile(acme, add_member, client_as, in_tenant):
    account_id, member_id = add_member(acme, "read_only", "Rita Reader")
    rita = client_as(account_id)
    assert rita.post(f"/{acme.slug}/profile", data={"name": "Rita R.", "phone": ""}).status_code == 303
    assert member_row(in_tenant, acme, member_id)[0] == "Rita R."
    assert member_row(in_tenant, acme, acme.admin_member_id)[0] == "Ada Admin"


def test_the_language_is_the_accounts_and_set_from_the_profile(app, acme, admin):
    answer = admin.post("/language", data={"language": "zh", "next": f"/{acme.slug}/profile"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/{acme.slug}/profile"
    with app.app_context():
        assert db.session.get(Account, acme.admin_account_id).language == "zh_Hans_CN"
    assert "个人资料" in admin.get(f"/{acme.slug}/profile").text


def test_a_password_change_from_the_profile_ends_the_other_sessions(acme, client_as):
    here, elsewhere = client_as(acme.admin_account_id), client_as(acme.admin_account_id)
    form = {"current_password": "wrong-password", "new_password": "another-pass-1", "next": f"/{acme.slug}/profile"}
    refused = here.post("/account/password", data=form, headers=HX)
    assert refused.status_code == 422 and "This is not your current password." in refused.text
    assert 'id="password-card"' in refused.text and "<html" not in refused.text  # only the form, swapped in place
    assert f'name="next" value="/{acme.slug}/profile"' in refused.text
    assert elsewhere.get(f"/{acme.slug}/profile").status_code == 200

    changed = here.post("/account/password", data={**form, "current_password": "password-123"})
    assert changed.status_code == 303 and changed.headers["Location"] == f"/{acme.slug}/profile"
    assert here.get(f"/{acme.slug}/profile").status_code == 200
    assert elsewhere.get(f"/{acme.slug}/profile").status_code == 302  # to sign-in: that session has ended


def test_a_password_change_goes_back_only_to_a_page_of_this_site(acme, admin):
    form = {"current_password": "password-123", "new_password": "another-pass-1", "next": "//evil.example/"}
    assert admin.post("/account/password", data=form).headers["Location"] == "/account"


def test_my_notifications_leads_to_the_profile(acme, admin):
    old = admin.get(f"/{acme.slug}/messages/preferences")
    assert old.status_code == 303 and old.headers["Location"] == f"/{acme.slug}/profile"
