"""The photo stores as the tests see them, one interface for both (conftest's ``photo_store``): the
FTP server of tests/ftp_servers.py, and a bucket on moto's S3 server (tests/s3_server.py)."""

from collections import Counter


class Bucket:
    def __init__(self, server):
        self.server, self.bucket = server, server.new_bucket()
        self.settings = server.settings_for(self.bucket)
        self.public_url = self.settings["PUBLIC_URL"]
        self.faults = server.faults

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.server.endpoint_url, region_name=self.settings["REGION"],
                            aws_access_key_id=self.settings["ACCESS_KEY_ID"],
                            aws_secret_access_key=self.settings["SECRET_ACCESS_KEY"])

    def requests(self):
        return self.server.requests_of(self.bucket)

    def keys(self):
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", ()))

    def head(self, key):
        return self.client().head_object(Bucket=self.bucket, Key=key)

    def read(self, key):
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()


class HostGatorStore:
    kind = "hostgator"

    def __init__(self, server):
        self.server, self.public_url = server, server.public_url

    def files(self):
        return sorted(str(path.relative_to(self.server.root)) for path in self.server.root.rglob("*")
                      if path.is_file() and not path.name.startswith("default_article"))

    def read(self, name):
        return (self.server.root / name).read_bytes()

    def forget(self):
        self.server.forget_commands()

    def downloads(self):
        return self.server.verbs().count("RETR")

    def uploads(self):
        return self.server.verbs().count("STOR")

    def written(self):
        """{name: times written} since forget() (every atomic upload ends with one RNTO)."""
        root = self.server.settings["DIR"]
        return Counter(command.argument.removeprefix(root) for command in self.server.commands
                       if command.verb == "RNTO")

    def slow(self, seconds):
        self.server.latency = seconds

    def full(self):
        self.server.faults.reply("STOR", "552 Disk quota exceeded", times=None)

    def down(self):
        self.server.stop()

    def up(self):
        self.server.faults.clear()
        self.server.start()


class S3Store:
    kind = "s3"

    def __init__(self, bucket):
        self.bucket, self.public_url = bucket, bucket.public_url
        client = bucket.client()
        for name in ("default_article.jpg", "default_article.svg"):  # what transfer_photos copies over
            client.put_object(Bucket=bucket.bucket, Key=name, Body=b"default")
        self.forget()  # uploads() and written() count the pipeline's requests, not these

    def files(self):
        return [key for key in self.bucket.keys() if not key.startswith("default_article")]

    def read(self, name):
        return self.bucket.read(name)

    def forget(self):
        self.bucket.server.forget()

    def downloads(self):
        return len([request for request in self.bucket.requests() if request.method == "GET" and request.key])

    def uploads(self):
        return len([request for request in self.bucket.requests() if request.method == "PUT"])

    def written(self):
        return Counter(request.key for request in self.bucket.requests() if request.method == "PUT")

    def slow(self, seconds):
        self.bucket.server.latency = seconds

    def full(self):
        self.bucket.faults.reply("PUT", 403, "QuotaExceeded", times=None)  # as versitygw says it

    def down(self):
        self.bucket.faults.reply("*", 503, "ServiceUnavailable", times=None)

    def up(self):
        self.bucket.faults.clear()
