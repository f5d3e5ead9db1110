"""The S3 backend against a real S3 API: moto's server on a free local port (no internet), through boto3, both
the storage interface alone and the app's uploads and downloads with FILE_STORAGE=s3."""
import io

import boto3
import pytest

from tests.attachments.conftest import PDF, png
from tests.conftest import free_port

BUCKET = "crm-files"


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.fixture
def on_s3(app, s3_server, monkeypatch):
    """The app storing files in the local S3 server for this test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings = {"FILE_STORAGE": "s3", "FILE_S3_BUCKET": BUCKET, "FILE_S3_ENDPOINT_URL": s3_server,
                "FILE_S3_REGION": "us-east-1"}
    before = {key: app.config.get(key) for key in settings}
    app.config.update(settings)
    app.extensions.pop("s3_clients", None)
    yield s3_server
    app.config.update(before)
    app.extensions.pop("s3_clients", None)


def test_s3_storage_round_trip(app, on_s3):
    from crm import storage

    with app.app_context():
        store, other = storage.storage_for("t_1"), storage.storage_for("t_2")
        key = storage.new_key()
        store.put(key, io.BytesIO(b"hello \xe4\xb8\xad"))
        assert store.open(key).read() == b"hello \xe4\xb8\xad"
        assert [k for k, _at in store.keys()] == [key]
        assert list(other.keys()) == []  # each workspace its own prefix
        with pytest.raises(ValueError):
            store.open("../t_2/" + key)
        store.delete(key)
        assert list(store.keys()) == []


def test_uploads_and_downloads_go_through_s3(app, on_s3, acme, admin, make_customer, upload, stored):
    customer_id = make_customer(acme)
    assert upload(admin, acme.slug, "customer", customer_id, ("合同.pdf", PDF), ("p.png", png())).status_code == 200
    pdf, image = stored(acme)
    objects = boto3.client("s3", endpoint_url=on_s3, region_name="us-east-1").list_objects_v2(Bucket=BUCKET)
    assert {item["Key"] for item in objects["Contents"]} >= {f"t_{acme.id}/{pdf.storage_key}",
                                                             f"t_{acme.id}/{image.storage_key}"}
    assert admin.get(f"/{acme.slug}/files/customer/file/{pdf.id}").data == PDF
    assert admin.get(f"/{acme.slug}/files/customer/file/{image.id}?preview=1").data == png()
    assert admin.post(f"/{acme.slug}/files/customer/file/{pdf.id}/delete").status_code == 303
    left = boto3.client("s3", endpoint_url=on_s3, region_name="us-east-1").list_objects_v2(
        Bucket=BUCKET, Prefix=f"t_{acme.id}/")
    assert [item["Key"] for item in left["Contents"]] == [f"t_{acme.id}/{image.storage_key}"]
