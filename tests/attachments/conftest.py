"""Files to upload, made the way real ones are (Pillow images, a minimal PDF), and an upload helper."""
import io
import struct
import zlib

import pytest
from PIL import Image

HX = {"HX-Request": "true"}
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
SVG_WITH_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
                   b"<script>alert(document.cookie)</script></svg>")
EXE = b"MZ\x90\x00\x03" + b"\x00" * 55 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 300


def png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels: a decompression bomb's shape (never decoded here)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(
        b"IEND", b"")


@pytest.fixture
def upload():
    """Post files to a record's upload route as the card's htmx form does; returns the response."""
    def post(client, slug: str, kind: str, record_id: int, *files: tuple[str, bytes], htmx: bool = True):
        data = {"files": [(io.BytesIO(body), name) for name, body in files]}
        return client.post(f"/{slug}/files/{kind}/{record_id}", data=data, content_type="multipart/form-data",
                           headers=HX if htmx else {})
    return post


@pytest.fixture
def stored(app, in_tenant):
    """The tenant's attachments as (id, name, content_type, storage_key, has_thumbnail), oldest first."""
    from sqlalchemy import select

    from crm.attachments.models import Attachment
    from crm.extensions import db

    def rows(tenant):
        return in_tenant(tenant, lambda: db.session.execute(select(
            Attachment.id, Attachment.name, Attachment.content_type, Attachment.storage_key,
            Attachment.has_thumbnail).order_by(Attachment.id)).all())
    return rows
