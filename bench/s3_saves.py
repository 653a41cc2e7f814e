"""Photo saves on an S3-compatible store (moto's S3 server) vs HostGator (the FTP bench server), at the
same simulated WAN, then transfer_photos from one to the other, in one run.

    .venv/bin/python -m bench.s3_saves
      BENCH_S3_PHOTOS=100   photos saved on each store, then transferred

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

    def stop(self):
        self._channel.send("stop")
        self._process.join(10)


def photo_files():
    """[{name: bytes}] of PHOTOS photos, each its original and two renditions as the pipeline names them."""
    from datetime import date

    from articles.photo_processing import process_upload
    from articles.photos import photo_files as files_of
    from storage.images import photo_name

    photos = []
    for index, path in enumerate(small_photos(PHOTOS)):
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


def record_rows(photos):
    from articles.models import Photo
    from articles.photos import files_record

    Photo.objects.bulk_create([Photo(name=name, width=processed.original.width, height=processed.original.height,
                                     content_hash=processed.content_hash,
                                     files=files_record(name, processed.original.width, processed.renditions))
                               for name, processed, _files in photos])


def main():
    from django.test import override_settings

    from articles.photo_transfer import transfer_photos
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
            # transfer_photos: the photos saved on HostGator above, into a fresh prefix of the bucket.
            fresh = ServerProcess(temporary_dir("s3-bench-ftp2"), certificate(), DELAY, "per_round_trip")
            source = our_storage(fresh.settings, timeout=15.0, max_connections=4)
            for _name, _processed, files in photos:
                source.save_many(files)
            s3_storage.delete_many([name for _name, _processed, files in photos for name in files])
            record_rows(photos)
            s3.forget()
            transfer_started = time.perf_counter()
            report = transfer_photos(source, PhotoS3Storage(max_connections=4), workers=4)
            transfer_time = time.perf_counter() - transfer_started
            transfer_requests = len(s3.requests())
            source.disconnect()
            fresh.stop()
            s3_storage.disconnect()
        ftp_storage.disconnect()
    finally:
        ftp.stop()
        s3.stop()
    copied = report.files
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

**transfer_photos HostGator → S3** (the same {PHOTOS} photos, 4 workers, {DELAY * 1000:.0f} ms per round trip on
both sides): {copied} files ({report.bytes / 1e6:.1f} MB) in {secs(transfer_time)}:
**{copied / transfer_time:.0f} files/s, {report.bytes / 1e6 / transfer_time:.2f} MB/s**, {transfer_requests} requests to
the bucket ({transfer_requests / max(1, copied):.2f} per file: one PUT each, plus one listing per folder).
"""
    targets = []
    write_section("s3_saves", f"14. s3_saves — {PHOTOS} photo saves, S3 vs HostGator, and transfer_photos", body,
                  targets, time.perf_counter() - started)
    say(f"FTP {secs(ftp_time)}, S3 {secs(s3_time)} ({ratio(s3_time / ftp_time)}); transfer {copied} files in "
        f"{secs(transfer_time)}")


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    sys.exit(main())
