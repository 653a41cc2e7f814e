"""The measurements of bench/host_limits.py that go through the admin (issue 8's, repeated on the
current code), one function each: a crawling host and the database transaction (§2), what the
editor reads when the host is full (§4). The FTP-level ones are in bench/host_limits_ftp.py.
Real servers only: tests/ftp_servers.py's InstrumentedHostGator (throttled reads) in this process
-- a throttled server spends no CPU -- and Debian's Pure-FTPd (tests/pureftpd.py)."""

import html
import io
import json
import os
import re
import subprocess
import sys
import threading
import time

from bench.common import certificate, our_storage, stopwatch, temporary_dir

SLOW_READ = 16 * 1024  # the crawling TLS host, bytes per second
HONEST_READ = 64 * 1024  # 1.5 MB takes ~23 s: longer than the 15 s reply timeout, shorter than 60 s
PLAIN_STATIC = {"default": {"BACKEND": "storage.backends.HostGatorStorage"},  # no collectstatic here
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
SMALL = bytes(range(256)) * 400  # 100 KB, the size test_host_limits saves
SIMULTANEOUS = 4
SIMULTANEOUS_READ = 256 * 1024  # each save's upload lasts longer than SQLite's 5 s busy timeout


def noise(size):
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def noisy_jpeg():
    """2048x1536 of noise as a JPEG q95: noise does not compress, so the pipeline's output stays large."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((2048, 1536), 120).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def short_error(error):
    return f"{type(error).__name__}: {error}" if error else ""


def raised_at(error):
    """Where in the project's own code ``error`` was raised: 'articles/admin.py:86 save_model'."""
    import traceback

    ours = [frame for frame in traceback.extract_tb(error.__traceback__)
            if "/site-packages/" not in frame.filename and "/bench/" not in frame.filename]
    if not ours:
        return ""
    frame = ours[-1]
    return f"{frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"


# --- the admin, as an editor uses it ---------------------------------------------------------------

def editor_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = get_user_model().objects
    user = users.filter(username="bench-editor").first() or users.create_superuser(
        "bench-editor", "editor@example.org", "bench-only-password")
    client = Client()
    client.force_login(user)
    return client


def post_photo(client, photo, title):
    """The admin's « Ajouter article » with a photo; (response, seconds until it returned)."""
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse
    from django.utils import timezone

    when = timezone.localtime() - timedelta(minutes=5)
    data = {"title": title, "slug": "", "summary": "Résumé", "body": "Texte", "photo_alt_text": "L'équipe",
            "placements-TOTAL_FORMS": 0, "placements-INITIAL_FORMS": 0,
            "published": "on", "published_at_0": when.strftime("%d/%m/%Y"),
            "published_at_1": when.strftime("%H:%M:%S"),
            "photo": SimpleUploadedFile("photo.jpg", photo, content_type="image/jpeg")}
    with stopwatch() as elapsed:
        response = client.post(reverse("admin:articles_article_add"), data, follow=True)
    return response, elapsed()


def outcome_of(title, response):
    """What the save left: 'uploaded' / 'parked' / 'nothing', and the warning the editor reads."""
    from articles.models import Article, PendingUpload

    article = Article.objects.filter(title=title).first()
    page = response.content.decode()
    warning = re.search(r'<li class="warning">(.*?)</li>', page, re.S)
    state = "no article" if article is None else "uploaded" if article.placements.filter(photo__on_store=True) \
        else "parked" if PendingUpload.objects.filter(photo__placements__article=article).exists() else "nothing"
    return state, html.unescape(warning[1]).strip() if warning else ""


class TransactionWatch(threading.Thread):
    """Samples pg_stat_activity every 100 ms from a connection of its own: the longest time any
    session of our database sat "idle in transaction", and the oldest open transaction."""

    QUERY = ("SELECT count(*) FILTER (WHERE state LIKE 'idle in transaction%%'), "
             "coalesce(extract(epoch FROM max(now() - state_change) "
             "FILTER (WHERE state LIKE 'idle in transaction%%')), 0), "
             "coalesce(extract(epoch FROM max(now() - xact_start)), 0) "
             "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()")

    def __init__(self, settings_dict):
        super().__init__(daemon=True)
        import psycopg2

        self.database = settings_dict["NAME"]
        self.sql = psycopg2.connect(dbname=self.database, user=settings_dict["USER"] or None,
                                    password=settings_dict["PASSWORD"] or None, host=settings_dict["HOST"] or None,
                                    port=settings_dict["PORT"] or None)
        self.sql.autocommit = True
        self.samples = self.idle_samples = 0
        self.longest_idle = self.oldest_transaction = 0.0
        self._stopping = threading.Event()

    def run(self):
        with self.sql.cursor() as cursor:
            while not self._stopping.wait(0.1):
                cursor.execute(self.QUERY, [self.database])
                idle, idle_for, open_for = cursor.fetchone()
                self.samples += 1
                self.idle_samples += bool(idle)
                self.longest_idle = max(self.longest_idle, float(idle_for))
                self.oldest_transaction = max(self.oldest_transaction, float(open_for))

    def stop(self):
        self._stopping.set()
        self.join(5)
        self.sql.close()
        return self


def slow_admin_save(server, photo, transfer_timeout):
    """§2: one admin save against a host reading SLOW_READ, PostgreSQL watched meanwhile."""
    from django.db import connection
    from django.test import override_settings

    server.read_limit = SLOW_READ
    title = f"Hôte lent {transfer_timeout:g} s"
    with override_settings(HOSTGATOR_FTP={**server.settings, "TIMEOUT": 15.0, "TRANSFER_TIMEOUT": transfer_timeout},
                           STORAGES=PLAIN_STATIC):
        client = editor_client()
        watch = TransactionWatch(connection.settings_dict) if connection.vendor == "postgresql" else None
        if watch:
            watch.start()
        try:
            response, seconds = post_photo(client, photo, title)
        finally:
            if watch:
                watch.stop()
        state, warning = outcome_of(title, response)
    server.read_limit = 0
    return {"seconds": seconds, "status": response.status_code, "state": state, "warning": warning, "watch": watch,
            "vendor": connection.vendor}


def honest_slow_upload(server):
    """§2: 1.5 MB at HONEST_READ, 15 s reply timeout, 60 s transfer deadline: it must simply finish."""
    server.read_limit = HONEST_READ
    storage = our_storage(server.settings, timeout=15.0, transfer_timeout=60.0)
    data, name, error = noise(1_500_000), "2026/12/honest-0123456789.jpg", None
    with stopwatch() as elapsed:
        try:
            storage.save_many({name: data})
        except Exception as failure:  # reported, not raised: a benchmark measures
            error = failure
    storage.disconnect()
    server.read_limit = 0
    path = server.root / name
    return {"seconds": elapsed(), "size": len(data), "error": error,
            "equal": path.exists() and path.read_bytes() == data}


def simultaneous_admin_saves(server, photo, count):
    """§2: ``count`` editors save at the same instant (own Client and thread each; SQLite here)."""
    from django.db import connections
    from django.test import override_settings

    results, barrier = [None] * count, threading.Barrier(count)

    def save(index, client):
        title = f"Simultané {index}"
        barrier.wait(30)
        start = time.perf_counter()
        try:
            response, seconds = post_photo(client, photo, title)
            results[index] = (response.status_code, seconds, *outcome_of(title, response))
        except Exception as error:  # the test Client re-raises what would be an HTTP 500
            results[index] = (500, time.perf_counter() - start, short_error(error), raised_at(error))
        finally:
            connections.close_all()

    with override_settings(HOSTGATOR_FTP={**server.settings, "TIMEOUT": 15.0}, STORAGES=PLAIN_STATIC):
        clients = [editor_client() for _ in range(count)]
        connections.close_all()  # this thread holds nothing while the editors save
        with stopwatch() as elapsed:
            threads = [threading.Thread(target=save, args=(index, client)) for index, client in enumerate(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(240)
    return {"results": results, "seconds": elapsed()}


def full_admin_save(pure, photo):
    """§4: what the editor reads when the host is over quota."""
    from django.test import override_settings

    title = "Hôte plein"
    with override_settings(HOSTGATOR_FTP={**pure.settings, "TIMEOUT": 15.0}, STORAGES=PLAIN_STATIC):
        response, seconds = post_photo(editor_client(), photo, title)
        state, warning = outcome_of(title, response)
    return {"seconds": seconds, "state": state, "warning": warning}


def sqlite_child(transaction_mode=None):
    """§2's SQLite case, in this process: a file database, 4 editors at once, JSON on stdout.
    ``transaction_mode``: SQLite's OPTIONS["transaction_mode"] (not the project's setting: a diagnosis)."""
    from bench.common import setup_django

    setup_django(test_database=temporary_dir("sqlite") / "bench.sqlite3")
    if transaction_mode:
        from django.db import connection

        connection.settings_dict["OPTIONS"]["transaction_mode"] = transaction_mode
        connection.close()
    from tests.ftp_servers import start_hostgator

    server = start_hostgator(temporary_dir("sqlite-ftp"), certificate())
    server.read_limit = SIMULTANEOUS_READ
    try:
        result = simultaneous_admin_saves(server, noisy_jpeg(), SIMULTANEOUS)
    finally:
        server.close()
    print(json.dumps(result, ensure_ascii=False))


def sqlite_saves(*transaction_mode):
    """sqlite_child's result, run in a child process without DATABASE_URL (this one may be on PostgreSQL)."""
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run([sys.executable, "-m", "bench.host_limits_cases", "--sqlite-child", *transaction_mode],
                          env=environment, capture_output=True, text=True, timeout=300)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sqlite-child"]:
        sqlite_child(*sys.argv[2:])
