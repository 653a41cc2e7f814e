"""Photo saves on an S3-compatible store (moto's S3 server) vs HostGator (the FTP bench server), at the
same simulated WAN (transfer_photos from one to the other: bench/s3_transfer.py).

    .venv/bin/python -m bench.s3_saves
      BENCH_S3_PHOTOS=100   photos saved on each store

Each store runs in its own child process (spawned: it never shares a GIL with the client). The WAN:
BENCH_DELAY (30 ms) once per round trip on both sides: the FTP server's per-round-trip model
(bench/servers.py), and the S3 server's delay before answering each HTTP request (a request on a
kept-alive connection is one round trip; neither model charges TCP or TLS handshakes). A "photo
save" is what the admin does after processing: ``save_many`` of the photo's three files (original,
1024w, 480w JPEG of a real 1600×1200 photo), one photo after the other.
"""

import multiprocessing
import os
import sys
import time

from bench.common import DELAY, certificate, our_storage, ratio, say, secs, table, temporary_dir, write_section
from bench.photos import small_photos
from bench.servers import ServerProcess

PHOTOS = int(os.environ.get("BENCH_S3_PHOTOS", "100"))


def _objects(server, bucket):
    """(count, bytes) of the objects in ``bucket``, listed with boto3 (its requests are recorded too)."""
    import boto3

    from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

    client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name=REGION,
                          aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)
    sizes = [entry["Size"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
             for entry in page.get("Contents", ())]
    client.close()
    return len(sizes), sum(sizes)


def _serve_s3(channel, delay):
    from tests.s3_server import S3Server

    server = S3Server(latency=delay)
    bucket = server.new_bucket()
    channel.send(server.settings_for(bucket, TIMEOUT=15.0, TRANSFER_TIMEOUT=60.0))
    while True:
        request = channel.recv()
        if request == "requests":
            channel.send([(entry.method, entry.key) for entry in server.requests_of(bucket)])
        elif request == "forget":
            server.forget()
            channel.send(None)
        elif request == "new bucket":
            bucket = server.new_bucket()
            server.forget()
            channel.send(server.settings_for(bucket, TIMEOUT=15.0, TRANSFER_TIMEOUT=60.0))
        elif request == "objects":
            channel.send(_objects(server, bucket))
        else:
            break
    server.stop()


class S3Process:
    def __init__(self, delay):
        context = multiprocessing.get_context("spawn")
        self._channel, child = context.Pipe()
        self._process = context.Process(target=_serve_s3, args=(child, delay), name="bench-s3", daemon=True)
        self._process.start()
        self.settings = self._channel.recv()

    def requests(self):
        self._channel.send("requests")
        return self._channel.recv()

    def forget(self):
        self._channel.send("forget")
        self._channel.recv()

    def new_bucket(self):
        """An empty bucket from now on (requests() counts only its requests): its settings.PHOTO_S3."""
        self._channel.send("new bucket")
        self.settings = self._channel.recv()
        return self.settings

    def objects(self):
        """(count, bytes) of the objects in the current bucket."""
        self._channel.send("objects")
        return self._channel.recv()

    @property
    def pid(self):
        return self._process.pid

    def stop(self):
        self._channel.send("stop")
        self._process.join(10)


def photo_files(count=PHOTOS):
    """[(name, processed, {name: bytes})] of ``count`` photos, each its original and two renditions as the
    pipeline names them."""
    from datetime import date

    from articles.photo_processing import process_upload
    from articles.photos import photo_files as files_of
    from storage.images import photo_name

    photos = []
    for index, path in enumerate(small_photos(count)):
        processed = process_upload(path.read_bytes(), path.name)
        name = photo_name(f"match-{index}", processed.content_hash, processed.extension, date(2026, 12, 1))
        photos.append((name, processed, files_of(name, processed.original.data, processed.renditions)))
    return photos


def time_saves(storage, photos):
    cpu = time.process_time()
    started = time.perf_counter()
    for _name, _processed, files in photos:
        storage.save_many(files)
    return time.perf_counter() - started, time.process_time() - cpu


def main():
    from django.test import override_settings

    from storage.s3 import PhotoS3Storage

    started = time.perf_counter()
    photos = photo_files()
    file_count = sum(len(files) for _name, _processed, files in photos)
    megabytes = sum(len(data) for _name, _processed, files in photos for data in files.values()) / 1e6
    say(f"{PHOTOS} photos, {file_count} files, {megabytes:.1f} MB ready")
    ftp = ServerProcess(temporary_dir("s3-bench-ftp"), certificate(), DELAY, "per_round_trip")
    s3 = S3Process(DELAY)
    try:
        ftp_storage = our_storage(ftp.settings, timeout=15.0, max_connections=3)
        ftp.forget()
        ftp_time, ftp_cpu = time_saves(ftp_storage, photos)
        ftp_waits, ftp_commands = ftp.waits(), len(ftp.commands())
        with override_settings(PHOTO_S3=s3.settings):
            s3_storage = PhotoS3Storage()
            s3_time, s3_cpu = time_saves(s3_storage, photos)
            s3_requests = len(s3.requests())
            s3_storage.disconnect()
        ftp_storage.disconnect()
    finally:
        ftp.stop()
        s3.stop()
    rows = [
        ("HostGator (FTP over TLS, 3 connections)", secs(ftp_time), f"{ftp_time / PHOTOS * 1000:.0f} ms",
         f"{ftp_commands / PHOTOS:.1f} commands, {ftp_waits / PHOTOS:.1f} round trips", secs(ftp_cpu), "1.00×"),
        ("S3 (moto, HTTP, up to 3 requests at once)", secs(s3_time), f"{s3_time / PHOTOS * 1000:.0f} ms",
         f"{s3_requests / PHOTOS:.1f} requests", secs(s3_cpu), ratio(s3_time / ftp_time)),
    ]
    body = f"""
{PHOTOS} photos (real 1600×1200 JPEGs, processed once: original + 1024w + 480w, {file_count} files,
{megabytes:.1f} MB), saved one after the other with `save_many` (what an editor's upload does after
processing), {DELAY * 1000:.0f} ms per round trip on both stores (FTP: per round trip, bench/servers.py; S3:
before each HTTP request is answered); each server in its own process. CPU = this process's.

{table(("store", f"{PHOTOS} photo saves", "per photo", "per photo (what the server saw)", "client CPU",
        "time vs FTP"), rows)}

- Per file, S3 takes one request (a `PUT`, its Content-MD5 checked by the store before it keeps the
  object); FTP takes 3 round trips (`PASV`+`STOR`, `MLST`, `RNFR`+`RNTO`). The three files of a photo go
  in parallel on both.
- `transfer_photos` from one store to the other, at 1, 4 and 8 workers: section 15 (`bench/s3_transfer.py`).
"""
    targets = []
    write_section("s3_saves", f"14. s3_saves — {PHOTOS} photo saves, S3 vs HostGator", body,
                  targets, time.perf_counter() - started)
    say(f"FTP {secs(ftp_time)}, S3 {secs(s3_time)} ({ratio(s3_time / ftp_time)})")


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    sys.exit(main())
