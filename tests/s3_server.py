"""A real S3 API server on loopback for the tests: moto's server mode (the WSGI app behind
``moto_server`` / ThreadedMotoServer), with faults injected in the server the way tests/ftp_servers.py
does for FTP: chosen requests answered with an S3 error (500, 503 SlowDown...) or held (a stall).

Every request is recorded as (method, key, headers), so a test sees what reached the store. The
bucket's objects are served without signature at ``public_url`` (moto checks none), which stands in
for the bucket's public URL or custom domain."""

import base64
import hashlib
import io
import json
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

REGION = "us-east-1"
ACCESS_KEY_ID = "AKIATESTONLYNOTREAL"
SECRET_ACCESS_KEY = "test-only-secret-not-a-real-key-0123456789"


class QuietHandler(MotoRequestHandler):
    def log(self, *args, **kwargs):  # werkzeug's access log: not wanted in test output
        pass


@dataclass
class Request:
    method: str
    bucket: str
    key: str
    headers: dict


@dataclass
class Fault:
    method: str
    status: int
    code: str
    times: int | None  # None: for ever
    key_contains: str = ""
    stall_seconds: float = 0.0
    message: str = "injected by the test"


class S3Faults:
    def __init__(self):
        self._faults, self._lock = [], threading.Lock()

    def reply(self, method, status, code, times=1, key_contains="", message="injected by the test"):
        """Answer the next ``times`` requests of ``method`` ("*": any) whose key contains
        ``key_contains`` with this S3 error instead of doing them."""
        with self._lock:
            self._faults.append(Fault(method, status, code, times, key_contains, message=message))

    def stall(self, method, seconds, times=1, key_contains=""):
        """Hold the next ``times`` requests of ``method`` for ``seconds`` before doing them."""
        with self._lock:
            self._faults.append(Fault(method, 0, "", times, key_contains, seconds))

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, method, key):
        with self._lock:
            for fault in self._faults:
                if fault.method in {method, "*"} and fault.key_contains in key and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None


class S3Server:
    """moto's S3 on 127.0.0.1 (a free port), in threads of this process. ``new_bucket()`` makes an
    empty bucket (publicly readable), ``settings_for(bucket)`` gives settings.PHOTO_S3 for it."""

    def __init__(self, latency=0.0):
        self.requests, self.faults, self._lock = [], S3Faults(), threading.Lock()
        self.latency = latency  # seconds before each request is answered: a WAN's round trip (benchmarks)
        # As B2, OVH and older gateways: no x-amz-checksum-* on objects, Content-MD5 required and checked
        # on DeleteObjects (boto3 since 1.36 sends CRC32 there instead).
        self.strict_checksums = False
        self._app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self._middleware, threaded=True,
                                   request_handler=QuietHandler)
        self.port = self._server.server_address[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-s3", daemon=True)
        self._thread.start()

    def _middleware(self, environ, start_response):
        parts = unquote(urlsplit(environ.get("PATH_INFO", "")).path).lstrip("/").split("/", 1)
        bucket, key = parts[0], parts[1] if len(parts) > 1 else ""
        method = environ["REQUEST_METHOD"]
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items()
                   if name.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        with self._lock:
            self.requests.append(Request(method, bucket, key, headers))
        if self.latency:
            time.sleep(self.latency)
        refusal = self._checksum_refusal(environ, method, key, headers) if self.strict_checksums else None
        if refusal:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # as a store reads what it refuses
            return self._error(start_response, *refusal)
        fault = self.faults.take(method, key)
        if fault and fault.stall_seconds:
            time.sleep(fault.stall_seconds)
        elif fault:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            return self._error(start_response, fault.status, fault.code, fault.message)
        return self._app(environ, start_response)

    @staticmethod
    def _error(start_response, status, code, message):
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>").encode()
        start_response(f"{status} Refused", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _checksum_refusal(environ, method, key, headers):
        """(status, code, message) of a strict store's refusal, or None. Reads and puts back the body."""
        if key and any(name.startswith(("x-amz-checksum-", "x-amz-sdk-checksum-")) for name in headers):
            return 400, "InvalidRequest", "Unsupported header: x-amz-checksum-*"
        if method == "POST" and "delete" in environ.get("QUERY_STRING", "").replace("=", "&").split("&"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            if "content-md5" not in headers:
                return 400, "InvalidRequest", "DeleteObjects requires one valid Content-MD5 header"
            if headers["content-md5"] != base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode():
                return 400, "BadDigest", "The Content-MD5 you specified did not match what we received."
        return None

    def new_bucket(self):
        import boto3

        name = f"cmtch-{secrets.token_hex(4)}"
        client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)
        client.create_bucket(Bucket=name)
        # Public reads, as the README has the operator set up (R2's public bucket or custom domain).
        client.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
        client.close()
        return name

    def settings_for(self, bucket, **overrides):
        return {"BUCKET": bucket, "ENDPOINT_URL": self.endpoint_url, "REGION": REGION,
                "ACCESS_KEY_ID": ACCESS_KEY_ID, "SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                "PUBLIC_URL": f"{self.endpoint_url}/{bucket}/", "TIMEOUT": 5.0, "TRANSFER_TIMEOUT": 20.0,
                "MAX_CONNECTIONS": 3, **overrides}

    def requests_of(self, bucket):
        with self._lock:
            return [request for request in self.requests if request.bucket == bucket]

    def forget(self):
        with self._lock:
            self.requests.clear()
        self.faults.clear()

    def stop(self):
        self._server.shutdown()
        self._thread.join(5)
