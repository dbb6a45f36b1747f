"""Where photos and other blobs are kept: a folder, or S3-compatible object storage through boto3.

Keys are content-addressed (`<sha256>.jpg`), so a second write of the same key writes the same bytes: two machines
storing one photo do no harm, and an object stored for an inspection that was then refused is only an orphan.
Nothing outside this module knows which store is in use; callers use current() and the methods of Store.

TRACKER_STORAGE_URL chooses: `file:///srv/tracker/uploads` or `s3://bucket/prefix`; unset, the folder
TRACKER_UPLOAD_DIR. For S3, TRACKER_S3_ENDPOINT_URL names a server other than AWS (MinIO, Ceph); the region and the
credentials come the usual boto3 way (AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile, an
instance role).
"""
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from flask import current_app

# Keys are names this app makes (hashes, probes): a plain name cannot climb out of a folder or prefix.
_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")


class StorageUnavailable(Exception):
    """The store could not be reached, or refused to do what was asked (down, wrong credentials, no bucket)."""


class NotStored(KeyError):
    """No object under that key."""


class Stored(NamedTuple):
    """An object opened for reading: a binary stream and its size in bytes; the reader closes the stream."""
    body: BinaryIO
    size: int


class Store(Protocol):
    """What every store does."""
    url: str

    def put(self, key: str, data: bytes) -> None:
        """Store data under key (the same key always holds the same bytes)."""

    def open(self, key: str) -> Stored:
        """The object under key; NotStored when there is none."""

    def size(self, key: str) -> int | None:
        """The object's size, or None when there is none."""

    def delete(self, key: str) -> None:
        """Remove the object under key, if any."""

    def keys(self) -> Iterator[tuple[str, int]]:
        """Every (key, size) in the store."""


def _check(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def photo_key(sha256: str) -> str:
    """The key of a photo: its content hash."""
    return f"{sha256}.jpg"


class FolderStore:
    """A folder on a local disk or a volume every machine mounts."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.url = self.root.resolve().as_uri()

    def put(self, key: str, data: bytes) -> None:
        path = self.root / _check(key)
        try:
            if path.exists() and path.stat().st_size == len(data):
                return  # content-addressed: the same picture is stored once
            self.root.mkdir(parents=True, exist_ok=True)
            # A reader never sees half a file: written aside, then renamed into place.
            tmp = self.root / f".{key}.{secrets.token_hex(4)}.tmp"
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc

    def open(self, key: str) -> Stored:
        path = self.root / _check(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise NotStored(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc
        return Stored(fh, os.fstat(fh.fileno()).st_size)

    def size(self, key: str) -> int | None:
        try:
            return (self.root / _check(key)).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            (self.root / _check(key)).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc

    def keys(self) -> Iterator[tuple[str, int]]:
        try:
            entries = sorted(self.root.iterdir()) if self.root.exists() else []
            for path in entries:
                if path.is_file() and _KEY.match(path.name) and not path.name.endswith(".tmp"):
                    yield path.name, path.stat().st_size
        except OSError as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc


class S3Store:
    """A bucket (and a prefix in it) of any S3-compatible store, through boto3."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None):
        import boto3
        from botocore.config import Config
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        # Short timeouts and few retries: a submit waits on this, and a store that is down must turn into a
        # quick 503 (the phone keeps the inspection and tries again), not a request the worker kills.
        # Path-style addressing for a named endpoint: MinIO and Ceph serve buckets under the path, not as
        # subdomains. Region and credentials: boto3's usual chain.
        config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3},
                        s3={"addressing_style": "path"} if endpoint_url else None)
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)

    def _call(self, method: str, key: str | None = None, **kw):
        from botocore.exceptions import BotoCoreError, ClientError
        if key is not None:
            kw["Key"] = self.prefix + _check(key)
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kw)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if key is not None and code in ("404", "NoSuchKey", "NotFound"):
                raise NotStored(key) from None
            raise StorageUnavailable(f"{self.url}: {exc}") from exc
        except BotoCoreError as exc:  # no connection, timeouts, no credentials
            raise StorageUnavailable(f"{self.url}: {exc}") from exc

    def put(self, key: str, data: bytes) -> None:
        self._call("put_object", key, Body=data, ContentType="image/jpeg" if key.endswith(".jpg") else
                   "application/octet-stream")

    def open(self, key: str) -> Stored:
        got = self._call("get_object", key)
        return Stored(got["Body"], got["ContentLength"])

    def size(self, key: str) -> int | None:
        try:
            return self._call("head_object", key)["ContentLength"]
        except NotStored:
            return None

    def delete(self, key: str) -> None:
        self._call("delete_object", key)

    def keys(self) -> Iterator[tuple[str, int]]:
        from botocore.exceptions import BotoCoreError, ClientError
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix):]
                    if _KEY.match(name):
                        yield name, obj["Size"]
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc


def from_url(url: str, endpoint_url: str | None = None) -> Store:
    """The store a URL names: file:///folder or s3://bucket/prefix; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"a folder URL is file:///absolute/path; got {url!r}")
        return FolderStore(unquote(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"an S3 URL is s3://bucket/prefix; got {url!r}")
        return S3Store(parts.netloc, unquote(parts.path), endpoint_url)
    raise ValueError(f"TRACKER_STORAGE_URL must start with file:// or s3://; got {url!r}")


def configured_url(config) -> str:
    """The store's URL from the app's config: TRACKER_STORAGE_URL, or else the folder TRACKER_UPLOAD_DIR."""
    return config.get("TRACKER_STORAGE_URL") or Path(config["TRACKER_UPLOAD_DIR"]).resolve().as_uri()


def current() -> Store:
    """The app's store, made once per app and settings (a boto3 client is thread-safe and keeps its connections)."""
    config = current_app.config
    settings = (configured_url(config), config.get("TRACKER_S3_ENDPOINT_URL"))
    cache = current_app.extensions.setdefault("tracker_storage", {})
    if settings not in cache:
        cache[settings] = from_url(*settings)
    return cache[settings]


def check(store: Store) -> None:
    """Write, read back and delete a probe object; StorageUnavailable says which step failed."""
    key = f"storage-check-{secrets.token_hex(8)}.probe"
    data = secrets.token_bytes(64)
    store.put(key, data)
    try:
        stored = store.open(key)
        with stored.body as body:
            back = body.read()
    except NotStored:
        raise StorageUnavailable(f"{store.url}: the probe was written but cannot be read back") from None
    finally:
        store.delete(key)
    if back != data:
        raise StorageUnavailable(f"{store.url}: the probe read back differs from what was written")
    if store.size(key) is not None:
        raise StorageUnavailable(f"{store.url}: the probe is still there after it was deleted")


def copy(source: Store, dest: Store, report=None) -> dict:
    """Copy every object of source that dest lacks (or holds at another size); resumable, since what is already
    there is skipped. report(key, action) is called for each key."""
    have = dict(dest.keys())
    counts = {"copied": 0, "skipped": 0}
    for key, size in source.keys():
        if have.get(key) == size:
            counts["skipped"] += 1
            action = "skipped"
        else:
            try:
                with source.open(key).body as body:
                    dest.put(key, body.read())
            except NotStored:  # removed from the source since it was listed
                continue
            counts["copied"] += 1
            action = "copied"
        if report:
            report(key, action)
    return counts
