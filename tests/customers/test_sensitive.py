"""Sensitive fields: stored encrypted, shown masked, revealed by role with an audit entry, found by exact
match, and re-encrypted by key rotation."""
import re

import pytest
from sqlalchemy import select, text

from crm import crypto
from crm.audit.models import AuditEntry
from crm.extensions import db
from tests.conftest import HX

ID_NUMBER = "11010119900307123X"
BANK = "6222 0212 3456 7890"


def test_values_are_encrypted_masked_and_revealed_with_an_audit_entry(app, acme, client_as, in_tenant):
    admin = client_as(acme.admin_account_id)
    created = admin.post(f"/{acme.slug}/customers/", headers=HX,
                         data={"name": "敏感客户", "id_number": ID_NUMBER.lower(), "bank_account": BANK})
    assert created.status_code == 204
    customer_id = int(created.headers["HX-Location"].rsplit("/", 1)[1])
    with app.app_context(), db.engine.connect() as connection:
        row = connection.execute(text(f"select t::text from t_{acme.id}.customers t where id = :i"),
                                 {"i": customer_id}).scalar()
    assert ID_NUMBER not in row.upper() and "6222021234567890" not in row and "7890" not in row
    page = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    assert "**** 123X" in page and "**** 7890" in page and ID_NUMBER not in page
    revealed = admin.post(f"/{acme.slug}/customers/{customer_id}/reveal/id_number", headers=HX)
    assert revealed.status_code == 200 and ID_NUMBER in revealed.text
    entries = in_tenant(acme, lambda: [(e.action, e.summary, e.changes) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id == customer_id, AuditEntry.action == "reveal"))])
    assert entries == [("reveal", "id_number", {"id_number": ["••••", "••••"]})]


def test_a_sales_rep_enters_values_but_sees_them_masked(app, acme, client_as, add_member):
    account, _rep = add_member(acme)
    rep = client_as(account)
    form = rep.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert 'name="id_number"' in form
    created = rep.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "Rep Sensitive", "id_number": ID_NUMBER})
    customer_id = int(created.headers["HX-Location"].rsplit("/", 1)[1])
    page = rep.get(f"/{acme.slug}/customers/{customer_id}").text
    assert "**** 123X" in page and "Reveal" not in page
    assert rep.post(f"/{acme.slug}/customers/{customer_id}/reveal/id_number").status_code == 403
    read_only_account, _ro = add_member(acme, role="read_only")
    read_only = client_as(read_only_account).get(f"/{acme.slug}/customers/{customer_id}").text
    assert "**** 123X" in read_only and ID_NUMBER not in read_only


def test_bad_values_are_refused_at_the_field(acme, client_as):
    bad = client_as(acme.admin_account_id).post(f"/{acme.slug}/customers/", headers=HX,
                                                data={"name": "X", "id_number": "12", "bank_account": "12-ab"})
    assert bad.status_code == 422
    assert "Enter 6-30 letters or digits." in bad.text and "Enter 8-34 letters or digits." in bad.text


def test_exact_search_by_id_number_or_bank_account(acme, client_as, make_customer):
    make_customer(acme, name="Found By ID", id_number=ID_NUMBER, bank_account=BANK)
    make_customer(acme, name="Someone Else", id_number="110101199003070000")
    admin = client_as(acme.admin_account_id)
    by_id = admin.get(f"/{acme.slug}/customers/?q={ID_NUMBER.lower()}", headers=HX).text
    assert "Found By ID" in by_id and "Someone Else" not in by_id
    assert "Found By ID" in admin.get(f"/{acme.slug}/customers/?q=6222-0212-3456-7890", headers=HX).text
    assert "Found By ID" not in admin.get(f"/{acme.slug}/customers/?q=1101011990", headers=HX).text


def test_edit_keeps_a_stored_value_when_left_empty(acme, client_as, make_customer):
    customer_id = make_customer(acme, name="Keep", id_number=ID_NUMBER)
    admin = client_as(acme.admin_account_id)
    assert admin.post(f"/{acme.slug}/customers/{customer_id}", headers=HX,
                      data={"name": "Keep", "id_number": ""}).status_code == 204
    assert "**** 123X" in admin.get(f"/{acme.slug}/customers/{customer_id}").text


def test_ciphertext_is_bound_to_its_tenant_and_field(app):
    with app.app_context():
        token = crypto.encrypt("secret", "t_1:customers.id_number")
        assert crypto.decrypt(token, "t_1:customers.id_number") == "secret"
        for other in ("t_2:customers.id_number", "t_1:customers.bank_account"):
            with pytest.raises(Exception):
                crypto.decrypt(token, other)


def test_key_rotation_re_encrypts_everything_and_old_values_still_read(app, acme, client_as, make_customer,
                                                                      field_keys):
    # Other tests' tenants hold values under the development key: a real key list keeps every key in use.
    field_keys("old", "dev")
    admin = client_as(acme.admin_account_id)
    assert admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": "Passport", "key": "passport",
                                                              "type": "text", "sensitive": "on"}).status_code == 303
    ids = [make_customer(acme, name=f"Rotate {i}", id_number=f"{ID_NUMBER[:-1]}{i}", bank_account=BANK)
           for i in range(3)]
    created = admin.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "Passport holder",
                                                                      "custom_passport": "E12345678"})
    ids.append(int(created.headers["HX-Location"].rsplit("/", 1)[1]))
    field_keys("new", "old", "dev")
    assert "**** 7890" in admin.get(f"/{acme.slug}/customers/{ids[0]}").text  # old values still read
    with app.app_context(), db.engine.connect() as connection:
        updated_before = connection.execute(text(f"select id, updated_at from t_{acme.id}.customers")).all()
    result = app.test_cli_runner().invoke(args=["tenants", "rotate-keys"])
    assert result.exit_code == 0 and f"t_{acme.id}" in result.output
    assert re.search(rf"t_{acme.id}\s+7 values re-encrypted", result.output)
    with app.app_context(), db.engine.connect() as connection:
        tokens = connection.execute(text(
            f"select id_number_enc, bank_account_enc from t_{acme.id}.customers where id = any(:ids)"),
            {"ids": ids[:3]}).all()
        custom = connection.execute(text(f"select custom_sensitive->>'passport' from t_{acme.id}.customers "
                                         "where id = :id"), {"id": ids[3]}).scalar()
        updated_after = connection.execute(text(f"select id, updated_at from t_{acme.id}.customers")).all()
    assert all(token.startswith("new:") for row in tokens for token in row) and custom.startswith("new:")
    assert sorted(updated_after) == sorted(updated_before)  # not an edit: a sync by updated_since sees nothing
    field_keys("new")  # the old key is gone; everything still reads
    revealed = admin.post(f"/{acme.slug}/customers/{ids[2]}/reveal/id_number", headers=HX).text
    assert f"{ID_NUMBER[:-1]}2" in revealed
    assert "E12345678" in admin.post(f"/{acme.slug}/customers/{ids[3]}/reveal/custom_passport", headers=HX).text
