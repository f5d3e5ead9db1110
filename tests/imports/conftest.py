"""Imports run through the real service, jobs and worker; files are plain UTF-8 CSV read by a small test reader
put in place of the engine's seam (crm.imports.jobs.rows_of)."""
import csv
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from crm.customers.models import Customer
from crm.extensions import db


@pytest.fixture(autouse=True)
def csv_rows(monkeypatch):
    """The engine reads the file through this reader: headers, then each row as a list of str."""
    from crm.imports import jobs

    def rows_of(imp):
        handle = open(imp.file_path, newline="", encoding="utf-8")
        reader = csv.reader(handle)
        return next(reader), reader

    monkeypatch.setattr(jobs, "rows_of", rows_of)


@dataclass
class Done:
    id: int
    status: str
    counts: dict


@pytest.fixture
def run_import(app, in_tenant, run_worker, tmp_path):
    """Write `rows` (the first is the header) to a CSV file of `kind` records, map the columns (by header: field
    key), check it, and import it unless `check_only`; returns the import's id, status and counts."""
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member

    def run(tenant, rows, fields, member_id=None, check_only=False, kind="customers", **options):
        path = tmp_path / f"import{len(list(tmp_path.iterdir()))}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        header = rows[0]
        mapping = {str(header.index(name)): key for name, key in fields.items()}

        def create():
            viewer = db.session.get(Member, member_id or tenant.admin_member_id)
            imp = service.create_import(viewer, f"{kind}.csv", str(path), {"headers": header}, kind)
            service.set_mapping(viewer, imp, mapping, options)
            service.start_check(imp)
            return imp.id

        import_id = in_tenant(tenant, create)
        run_worker()
        if not check_only:
            in_tenant(tenant, lambda: service.start_import(db.session.get(Import, import_id)))
            run_worker()
        return in_tenant(tenant, lambda: _done(db.session.get(Import, import_id)))

    return run


def _done(imp) -> Done:
    return Done(imp.id, imp.status, imp.counts)


@pytest.fixture
def customers(in_tenant):
    """{name: Customer} of a tenant's live customers, read fresh (detached, columns loaded)."""
    def read(tenant, deleted=False):
        def load():
            stmt = select(Customer).where(Customer.deleted_at.is_not(None) if deleted else Customer.deleted_at.is_(None))
            found = {c.name: c for c in db.session.scalars(stmt)}
            for c in found.values():
                _ = c.tags, c.custom
            db.session.expunge_all()
            return found
        return in_tenant(tenant, load)

    return read
