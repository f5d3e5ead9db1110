"""A workspace with data and files to back up, and what a restore is compared with: every row of every table, as
text, and every stored file's checksum."""
import hashlib
import io

import pytest
from sqlalchemy import text

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def rows_of(app):
    """Every row of every table of a schema (the version table too), each as its text without the columns `drop`
    names, sorted: {table: [...]}."""
    from crm.extensions import db
    from tenants import roles

    def read(schema: str, drop: tuple[str, ...] = ()) -> dict[str, list[str]]:
        with app.app_context(), db.engine.begin() as connection:
            roles.switch_to(connection, schema)
            tables = connection.execute(text("select tablename::text from pg_tables where schemaname = :s"),
                                        {"s": schema}).scalars().all()
            return {table: connection.execute(text(
                f'select (to_jsonb(t) - cast(:drop as text[]))::text from "{schema}"."{table}" t order by 1'),
                {"drop": list(drop)}).scalars().all() for table in tables}

    return read


@pytest.fixture
def files_of(app):
    """{storage key: SHA-256} of a schema's stored files."""
    from crm.storage import storage_for

    def read(schema: str) -> dict[str, str]:
        with app.app_context():
            store = storage_for(schema)
            found = {}
            for key, _stored_at in store.keys():
                with store.open(key) as stream:
                    found[key] = hashlib.sha256(stream.read()).hexdigest()
            return found

    return read


@pytest.fixture
def filled(acme, admin, make_customer):
    """Acme with customers (one with sensitive values), a deal and two files on a customer."""
    customer = make_customer(acme, name="张伟", phone="13800138000", id_number="110101199003077777")
    make_customer(acme, name="Li Na", email="li@example.com")
    for name, body in (("合同.pdf", PDF), ("notes.txt", "客户的需求\n".encode() * 50)):
        response = admin.post(f"/{acme.slug}/files/customer/{customer}", data={"files": [(io.BytesIO(body), name)]},
                              content_type="multipart/form-data", headers={"HX-Request": "true"})
        assert response.status_code == 200, response.text
    return customer
