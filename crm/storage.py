"""Where stored files live: one small interface, a local folder (the default) or an S3-compatible object store.

Every workspace has its own namespace (its schema's name: a sub-folder, or a key prefix), so a file of one
workspace is never named in another's. Keys are made by the app (`new_key()`), never from a user's file name; a
key that is not one of ours is refused before it reaches a path or a bucket. Attachments store their files here,
and the workspace backups (crm/backups/) read them and keep their archives under `backups/<schema>`.
"""
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

KEY = re.compile(r"[a-f0-9]{32}")
COPY_CHUNK = 1024 * 1024


class Storage(Protocol):
    """Files of one workspace by key: write, read, delete, list."""

    def put(self, key: str, stream: BinaryIO) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...
    def keys(self) -> Iterator[tuple[str, datetime]]: ...


def new_key() -> str:
    """A fresh random key (128 bits): unguessable, and no name a user chose."""
    return secrets.token_hex(16)


def _checked(key: str) -> str:
    if not KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """A folder per workspace under FILE_DIR (outside the web root; default instance/files)."""

    def __init__(self, root: str | Path, namespace: str):
        self.folder = Path(root) / namespace

    def put(self, key: str, stream: BinaryIO) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / _checked(key)
        partial = path.with_name(path.name + ".part")  # a reader never sees half a file
        with open(partial, "wb") as out:
            shutil.copyfileobj(stream, out, COPY_CHUNK)
        os.replace(partial, path)

    def open(self, key: str) -> BinaryIO:
        return open(self.folder / _checked(key), "rb")

    def delete(self, key: str) -> None:
        (self.folder / _checked(key)).unlink(missing_ok=True)

    def keys(self) -> Iterator[tuple[str, datetime]]:
        if not self.folder.is_dir():
            return
        for entry in os.scandir(self.folder):
            if KEY.fullmatch(entry.name):
                yield entry.name, datetime.fromtimestamp(entry.stat().st_mtime, timezone.utc)


class S3Storage:
    """Keys `<namespace>/<key>` in one bucket of any S3-compatible store (boto3)."""

    def __init__(self, client, bucket: str, namespace: str):
        self.client, self.bucket, self.prefix = client, bucket, f"{namespace}/"

    def put(self, key: str, stream: BinaryIO) -> None:
        self.client.upload_fileobj(stream, self.bucket, self.prefix + _checked(key))

    def open(self, key: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(key))["Body"]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + _checked(key))

    def keys(self) -> Iterator[tuple[str, datetime]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"][len(self.prefix):]
                if KEY.fullmatch(key):
                    yield key, item["LastModified"]


def s3_client(config):
    """A boto3 client from FILE_S3_* settings; credentials from the environment as boto3 reads them."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=config.get("FILE_S3_ENDPOINT_URL") or None,
                        region_name=config.get("FILE_S3_REGION") or None,
                        config=Config(signature_version="s3v4", retries={"max_attempts": 3}))


def storage_for(namespace: str) -> Storage:
    """The configured storage (FILE_STORAGE: local or s3) for one workspace's namespace (its schema's name)."""
    config = current_app.config
    if config.get("FILE_STORAGE", "local") == "s3":
        clients = current_app.extensions.setdefault("s3_clients", {})  # a boto3 client is thread-safe: one each
        endpoint = config.get("FILE_S3_ENDPOINT_URL")
        if endpoint not in clients:
            clients[endpoint] = s3_client(config)
        return S3Storage(clients[endpoint], config["FILE_S3_BUCKET"], namespace)
    root = config.get("FILE_DIR") or os.path.join(current_app.instance_path, "files")
    return LocalStorage(root, namespace)
