"""PhotoS3Storage: the photos on any S3-compatible object store (Cloudflare R2, Backblaze B2, AWS
S3...), when PHOTO_STORAGE=s3. A subclass of django-storages' S3Storage with the contract the photo
pipeline uses on HostGator (storage/backends.py):

- the same names, and ``url()`` pure string building from PHOTO_PUBLIC_URL (no signing, no network);
- ``save()`` never replaces a file: a conditional PUT (If-None-Match: *) takes the name only if it
  is free, else the next of Django's alternatives; ``save_many()`` in parallel, replacing (its names
  carry the content hash);
- every PUT carries Content-MD5, so the store itself refuses a body that arrived damaged, and the
  right Content-Type with ``Cache-Control: public, max-age=31536000, immutable``;
- no ACL calls (R2 and B2 refuse them: public access is a setting of the bucket), and botocore's
  checksums only where an operation requires them (R2 and B2 refuse the CRC32 headers boto3 sends
  by default since 1.36); DeleteObjects, which requires one, gets the Content-MD5 every S3 API
  takes instead of boto3's CRC32, which B2, OVH and older gateways refuse (``md5_for_batch_delete``);
- timeouts, bounded retries and one deadline per operation (the transfer timeout) as on FTP, and
  the same errors (storage/errors.py), so a store that is down makes the photo wait, as on FTP.

The secret key is only ever handed to boto3: never in an error, a log line or ``deconstruct()``.
"""

import base64
import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.utils import timezone
from storages.backends.s3 import S3Storage

from storage.errors import StoreError, StoreRefused
from storage.names import content_type_of
from storage.photo_store import PhotoStore
from storage.s3_errors import call_with_deadline, is_name_taken, refuses_the_condition

CACHE_CONTROL = "public, max-age=31536000, immutable"  # names carry the content hash: never changes
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
_creation = threading.Lock()


def md5_for_batch_delete(request, **kwargs):
    """DeleteObjects with Content-MD5 (as boto3 sent it until 1.36) instead of its CRC32 headers:
    AWS takes either; B2, OVH and some gateways take only the MD5. Before signing, so it is signed.
    By hand because botocore has no setting for it (``when_required`` still sends CRC32 here)."""
    for header in [name for name in request.headers if name.lower().startswith(("x-amz-checksum-",
                                                                                 "x-amz-sdk-checksum-"))]:
        del request.headers[header]
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    request.headers["Content-MD5"] = content_md5(body)


def content_md5(data):
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


class PhotoS3Storage(PhotoStore, S3Storage):
    """Configured from settings.PHOTO_S3 (the AWS_* and PHOTO_PUBLIC_URL environment variables);
    keyword arguments with django-storages' names override single values (tests, scripts)."""

    place = "le stockage des photos (S3)"
    short = "le stockage S3"
    when_full = "dans la console du fournisseur (R2, B2, S3), augmentez le quota du bucket"

    def __init__(self, **overrides):
        super().__init__(**overrides)
        self._client = self._executor = None
        self.conditional_puts = True  # until the store refuses If-None-Match (s3_errors.refuses_the_condition)
        self.client_config = Config(
            connect_timeout=self.timeout, read_timeout=self.timeout,
            retries={"total_max_attempts": 3, "mode": "standard"},
            max_pool_connections=max(10, 2 * self.max_connections),  # as many as the executor runs at once
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
            # Path-style on a named endpoint (R2, B2, a local server): no DNS name per bucket needed.
            s3={"addressing_style": "path" if self.endpoint_url else "auto"}, signature_version="s3v4")

    def get_default_settings(self):
        values = settings.PHOTO_S3
        return {
            **super().get_default_settings(),
            "bucket_name": values["BUCKET"], "endpoint_url": values["ENDPOINT_URL"] or None,
            "region_name": values["REGION"] or None, "access_key": values["ACCESS_KEY_ID"],
            "secret_key": values["SECRET_ACCESS_KEY"], "security_token": None, "session_profile": None,
            "file_overwrite": False, "default_acl": None, "querystring_auth": False, "location": "",
            "object_parameters": {"CacheControl": CACHE_CONTROL}, "base_url": values["PUBLIC_URL"],
            "timeout": values["TIMEOUT"], "transfer_timeout": values["TRANSFER_TIMEOUT"],
            "max_connections": values["MAX_CONNECTIONS"],
        }

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        return path, args, {key: value for key, value in kwargs.items()
                            if key not in {"access_key", "secret_key", "security_token"}}

    @property
    def client(self):
        """One boto3 client for every thread (clients are thread-safe; its HTTP connections are
        pooled, max_pool_connections), made at first use, under a lock."""
        with _creation:
            if self._client is None:
                self._client = boto3.session.Session(
                    aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                ).client("s3", endpoint_url=self.endpoint_url, region_name=self.region_name,
                         config=self.client_config, verify=self.verify)
                self._client.meta.events.register("before-sign.s3.DeleteObjects", md5_for_batch_delete)
                self._executor = ThreadPoolExecutor(max_workers=2 * self.max_connections,
                                                    thread_name_prefix="s3")
            return self._client

    def disconnect(self):
        with _creation:
            client, executor, self._client, self._executor = self._client, self._executor, None, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()

    def call(self, operation, name, work):
        """``work()`` (boto3 calls) in this storage's threads, awaited until the transfer deadline,
        its failures as storage/errors.py's."""
        self.client  # noqa: B018 -- makes the threads with it
        return call_with_deadline(self._executor, operation, name, work, self.transfer_timeout)

    def head_bucket(self):
        """The bucket answers (credentials, bucket, endpoint), or a StoreError says why not."""
        self.call("HEAD", self.bucket_name, lambda: self.client.head_bucket(Bucket=self.bucket_name))

    # --- names ----------------------------------------------------------------------------------
    def key(self, name):
        """The object key of a name read from the database (refuses what would leave the folder)."""
        return self._normalize_name(str(name).replace("\\", "/"))

    # --- reading --------------------------------------------------------------------------------
    def head(self, name):
        """The object's HEAD reply (ContentLength, LastModified, ContentType...), or None."""
        def work():
            try:
                return self.client.head_object(Bucket=self.bucket_name, Key=self.key(name))
            except ClientError as error:
                if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    return None
                raise
        return self.call("HEAD", name, work)

    def exists(self, name):
        return self.head(name) is not None

    def _found(self, name):
        found = self.head(name)
        if found is None:
            raise FileNotFoundError(f"'{name}' is not in the bucket")
        return found

    def size(self, name):
        return self._found(name)["ContentLength"]

    def get_modified_time(self, name):
        modified = self._found(name)["LastModified"]
        return modified if settings.USE_TZ else timezone.make_naive(modified)

    def _listing(self, path):
        """(folders, {name: size}) in folder ``path``: one ListObjectsV2 per 1000 entries."""
        prefix = self.key(path) if path not in {"", ".", "/"} else ""
        prefix = prefix.rstrip("/") + "/" if prefix else ""

        def work():
            folders, files = [], {}
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket_name, Prefix=prefix, Delimiter="/"):
                folders += [entry["Prefix"][len(prefix):].rstrip("/") for entry in page.get("CommonPrefixes", ())]
                files.update({entry["Key"][len(prefix):]: entry["Size"] for entry in page.get("Contents", ())
                              if entry["Key"] != prefix})
            return folders, files
        return self.call("LIST", path, work)

    def listdir(self, path):
        folders, files = self._listing(path)
        return folders, sorted(files)

    def file_sizes(self, path):
        """{name: size} of the files in folder ``path``."""
        return self._listing(path)[1]

    def _open(self, name, mode="rb"):
        if any(flag in mode for flag in "wa+"):
            raise ValueError("PhotoS3Storage files are read-only; write them with save()")

        def download():
            try:
                body = self.client.get_object(Bucket=self.bucket_name, Key=self.key(name))["Body"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                    raise FileNotFoundError(f"'{name}' is not in the bucket") from None
                raise
            with body:
                return body.read()

        return File(io.BytesIO(self.call("GET", name, download)), name)

    # --- writing --------------------------------------------------------------------------------
    def put(self, name, data, only_if_absent=False):
        """One PUT of ``data`` (bytes) at ``name``; with ``only_if_absent``, refused (NAME_TAKEN)
        when something is already there."""
        extra = {"IfNoneMatch": "*"} if only_if_absent else {}
        self.call("PUT", name, lambda: self.client.put_object(
            Bucket=self.bucket_name, Key=self.key(name), Body=data, ContentMD5=content_md5(data),
            ContentType=content_type_of(name), **self.get_object_parameters(name), **extra))
        return name

    def save(self, name, content, max_length=None):
        """Like Storage.save, never replacing a file: a name found taken (HEAD) is skipped, and the
        PUT itself is conditional (If-None-Match: *), so two saves racing for one name cannot both
        take it. A store that does not implement conditional PUTs (501) gets plain ones from then
        on, the HEAD still guarding (the site's own photos carry a content hash: a race there is the
        same bytes)."""
        name, content = self.writable(name, content)
        if hasattr(content, "seek"):
            content.seek(0)
        data = b"".join(content.chunks())
        for candidate in self.candidate_names(name, max_length):
            if self.head(candidate) is not None:
                continue
            try:
                return self.put(candidate, data, only_if_absent=self.conditional_puts)
            except StoreError as refused:
                if is_name_taken(refused):
                    continue
                # A store that does not know If-None-Match answers 501, or a 400 about the header:
                # one plain PUT; once the store takes it, only plain PUTs.
                if not (self.conditional_puts and refuses_the_condition(refused)):
                    raise
            name = self.put(candidate, data)
            self.conditional_puts = False
            return name
        raise SuspiciousFileOperation(f"No free name of at most {max_length} characters is left for '{name}'")

    def _save(self, name, content):
        return self.save(name, content)

    def save_many(self, files):
        """Upload {name: bytes} in parallel, replacing (the names carry a content hash). Raises the
        first failure once every upload has finished or failed."""
        for name in files:
            self.check_writable_name(name)
        with ThreadPoolExecutor(max_workers=max(1, min(len(files), self.max_connections))) as executor:
            futures = [executor.submit(self.put, name, data) for name, data in files.items()]
        errors = [future.exception() for future in futures if future.exception()]
        if errors:
            raise errors[0]
        return list(files)

    def save_own_file(self, name, data):
        """One of the site's own files (settings.DEFAULT_IMAGE_NAMES: the default images, SVG
        included, which photo names may not be), replacing."""
        if name not in settings.DEFAULT_IMAGE_NAMES:
            raise SuspiciousFileOperation(f"'{name}' is not one of the site's own files")
        self.put(name, data)

    def delete(self, name):
        """Idempotent: S3 answers 204 for a key that is not there."""
        if not name:
            raise ValueError("The name must be given to delete().")
        self.call("DELETE", name, lambda: self.client.delete_object(Bucket=self.bucket_name, Key=self.key(name)))

    def delete_many(self, names):
        """One DeleteObjects request per 1000 names (a photo has some 30 possible names)."""
        keys = [self.key(name) for name in names]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            reply = self.call("DELETE", ", ".join(batch), lambda batch=batch: self.client.delete_objects(
                Bucket=self.bucket_name, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}))
            failed = [error for error in reply.get("Errors", []) if error.get("Code") != "NoSuchKey"]
            if failed:
                raise StoreRefused("DELETE", failed[0].get("Key", ""), reply=failed[0].get("Code", ""),
                                       detail=failed[0].get("Message", ""), protocol="S3")

