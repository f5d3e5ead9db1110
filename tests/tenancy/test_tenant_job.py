"""@tenant_job: the tenant id comes first, the tenant is bound inside, and a deleted or suspended tenant is
skipped with a log line."""
import logging

import pytest
from sqlalchemy import select, text, update

from crm.customers.models import Tag
from crm.extensions import db
from crm.jobs import tenant_job
from tenants.binding import current_tenant
from tenants.models import Tenant


@tenant_job
def add_tag(name: str, fail: bool = False) -> int:
    """A job that writes in the bound tenant and says which tenant that was."""
    db.session.add(Tag(name=name))
    db.session.flush()
    if fail:
        raise RuntimeError("the job failed after writing")
    return current_tenant().id


def tag_names(in_tenant, tenant) -> list[str]:
    return in_tenant(tenant, lambda: sorted(db.session.scalars(select(Tag.name))))


def test_a_tenant_job_runs_bound_to_its_tenant_and_commits(app, acme, globex, in_tenant):
    assert add_tag(acme.id, "vip") == acme.id  # no app context: the job makes its own, as a worker does
    assert tag_names(in_tenant, acme) == ["vip"]
    assert tag_names(in_tenant, globex) == []


def test_a_failing_tenant_job_leaves_nothing_behind(app, acme, in_tenant):
    with pytest.raises(RuntimeError):
        add_tag(acme.id, "half-done", fail=True)
    assert tag_names(in_tenant, acme) == []


def test_a_job_of_a_suspended_tenant_does_nothing_and_says_so(app, acme, in_tenant, caplog):
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == acme.id).values(status="suspended"))
        db.session.commit()
    with caplog.at_level(logging.INFO, logger="crm.jobs"):
        assert add_tag(acme.id, "vip") is None
    assert f"skipped add_tag for tenant {acme.id}: suspended" in caplog.text
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == acme.id).values(status="active"))
        db.session.commit()
    assert tag_names(in_tenant, acme) == []


def test_a_job_of_a_deleted_tenant_does_nothing_and_says_so(app, make_tenant, caplog):
    gone = make_tenant("Gone Ltd")
    with app.app_context():
        db.session.execute(text(f'drop schema "t_{gone.id}" cascade'))
        db.session.execute(text("delete from public.tenants where id = :id"), {"id": gone.id})
        db.session.commit()
    with caplog.at_level(logging.INFO, logger="crm.jobs"):
        assert add_tag(gone.id, "vip") is None
    assert f"skipped add_tag for tenant {gone.id}: deleted" in caplog.text
