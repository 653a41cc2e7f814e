"""Memory per photo, end to end: a real gunicorn worker, started by the Procfile's own command,
receives admin uploads (login, CSRF, multipart POST, photo processed, sent by FTPS to the embedded
server, article saved). The worker's RSS is read from /proc: VmRSS idle (after a page), VmHWM (its
peak) after the upload(s), and VmRSS once they are done. One upload, then four at once (four
editors, the worker's four threads), each in a freshly started gunicorn.

    .venv/bin/python -m bench.memory_gunicorn      (BENCH_MEMORY_GUNICORN_CASES as bench.memory's)
"""

import http.cookiejar
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.common import PROJECT, say, table, temporary_dir, write_section
from bench.memory import ISSUE_CASES, ISSUE_FIGURES, mb
from bench.photos import big_photo

CASES = ("JPEG 40 MP", "PNG + alpha 40 MP", "GIF 36 MP", "HEIC 24 MP (iPhone 15 Pro)")
ADMIN_PASSWORD = secrets.token_urlsafe(12)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proc_status(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


class PlainHttpCookies(http.cookiejar.DefaultCookiePolicy):
    """Send the site's Secure cookies (session, CSRF) over plain HTTP on loopback: in production
    Render's proxy terminates TLS in front of gunicorn, so the worker never sees HTTPS either."""

    def return_ok_secure(self, cookie, request):
        return True


class Editor:
    """One logged-in admin session (urllib, cookies, CSRF) on the site at ``base``."""

    def __init__(self, base):
        self.base = base
        cookies = http.cookiejar.CookieJar(PlainHttpCookies())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
        self.post("/admin/login/?next=/admin/", {"username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/"},
                  form_path="/admin/login/")

    def get(self, path):
        with self.opener.open(self.base + path, timeout=600) as response:
            return response.read().decode()

    def post(self, path, fields, files=None, form_path=None):
        page = self.get(form_path or path)
        fields = {**fields, "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]}
        boundary = secrets.token_hex(16)
        body = b""
        for name, value in fields.items():
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, (filename, data) in (files or {}).items():
            body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": self.base + path})
        with self.opener.open(request, timeout=600) as response:
            return response.read().decode()

    def add_article(self, title, filename, data):
        when = time.localtime()
        page = self.post("/admin/articles/article/add/", {
            "title": title, "slug": "", "summary": "Résumé", "body": "Texte", "photo_alt_text": "Photo",
            "published": "on", "placements-TOTAL_FORMS": 0, "placements-INITIAL_FORMS": 0,
            "published_at_0": time.strftime("%d/%m/%Y", when), "published_at_1": time.strftime("%H:%M:%S", when)},
            files={"photo": (filename, data)})
        refused = re.search(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', page, re.S)
        return f"refused: {refused[1][:60]}…" if refused else "saved"


class Site:
    """migrate + admin account + the embedded FTP server + gunicorn as the Procfile starts it."""

    def __init__(self):
        self.state = temporary_dir("gunicorn-site")
        self.port = free_port()
        self.env = {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECURE_SSL_REDIRECT": "0", "PORT": str(self.port),
                    "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DATABASE_URL": f"sqlite:///{self.state / 'site.db'}",
                    "EMBEDDED_HOSTGATOR_DIR": str(self.state / "embedded"), "EMBEDDED_FTP_PORT": str(free_port()),
                    "EMBEDDED_HTTP_PORT": str(free_port()), "ADMIN_PASSWORD": ADMIN_PASSWORD}
        self.processes = []

    def manage(self, *args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, check=True,
                       capture_output=True)

    def __enter__(self):
        self.manage("collectstatic", "--noinput")  # as Render's build does: DEBUG off serves the manifest's names
        self.manage("migrate", "--noinput")
        self.manage("shell", "-c", "import os; from django.contrib.auth import get_user_model; "
                                   "get_user_model().objects.create_superuser('admin', 'a@localhost', "
                                   "os.environ['ADMIN_PASSWORD'])")
        self.processes.append(subprocess.Popen([sys.executable, "-m", "storage.embedded", "--state-dir",
                                                self.env["EMBEDDED_HOSTGATOR_DIR"]], cwd=PROJECT, env=self.env,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    def start_gunicorn(self):
        """The Procfile's command, run through a shell as Render and Procfile runners do; returns
        (the shell, the gunicorn master's pid, its worker's pid)."""
        command = (PROJECT / "Procfile").read_text().split("web:", 1)[1].strip()
        command = command.replace("gunicorn ", f"{shlex.quote(str(Path(sys.executable).parent / 'gunicorn'))} ", 1)
        pid_file = self.state / f"gunicorn-{secrets.token_hex(4)}.pid"
        shell = subprocess.Popen(["bash", "-c", f"{command} --pid {pid_file}"], cwd=PROJECT, env=self.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
        master = int(pid_file.read_text())
        workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True)
        return shell, master, int(workers.stdout.split()[0])

    def stop_gunicorn(self, shell, master):
        os.kill(master, signal.SIGTERM)
        shell.wait(timeout=60)

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
            process.wait(timeout=30)




def measure(site, label, path, copies):
    shell, master, worker = site.start_gunicorn()
    try:
        return measure_worker(site, worker, label, path, copies)
    finally:
        site.stop_gunicorn(shell, master)


def measure_worker(site, worker, label, path, copies):
    base = f"http://127.0.0.1:{site.port}"
    editors = [Editor(base) for _ in range(copies)]
    editors[0].get("/")
    idle = proc_status(worker, "VmRSS")
    data = [path.read_bytes() for _ in range(copies)]
    outcomes = []
    threads = [threading.Thread(target=lambda e=editor, d=blob, i=index: outcomes.append(
        e.add_article(f"{label} {i} {secrets.token_hex(3)}", path.name, d)))
        for index, (editor, blob) in enumerate(zip(editors, data, strict=True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"idle": idle, "peak": proc_status(worker, "VmHWM"), "after": proc_status(worker, "VmRSS"),
            "outcomes": outcomes}


def main():
    started = time.perf_counter()
    wanted = os.environ.get("BENCH_MEMORY_GUNICORN_CASES")
    cases = [case for case in ISSUE_CASES if case[0] in CASES and (not wanted or any(
        part.strip() in case[0] for part in wanted.split(",")))]
    rows, worst_peak = [], 0
    with Site() as site:
        for label, kind, size in cases:
            path = big_photo(kind, size)
            one, four = measure(site, label, path, 1), measure(site, label, path, 4)
            worst_peak = max(worst_peak, four["peak"])
            issue = ISSUE_FIGURES.get(label)
            rows.append((label, mb(one["idle"]), f"{issue + 54} MB" if issue else "—", f"**{mb(one['peak'])}**",
                         f"{mb(one['peak'] - one['idle'])}", mb(one["after"]), f"**{mb(four['peak'])}**",
                         mb(four["after"]), ", ".join(sorted(set(one["outcomes"] + four["outcomes"])))))
            say(" | ".join(rows[-1]))
    body = f"""
A real gunicorn started by the Procfile's own command (so with its worker count, threads and
`MALLOC_MMAP_THRESHOLD_`), SQLite, the embedded FTPS server on loopback; an editor logs in and adds an article
with the photo through the admin (multipart POST, CSRF): the whole request path. Worker RSS from `/proc`: idle
after one page, VmHWM (its peak) after the upload(s), VmRSS after; a fresh gunicorn for each run. "Issue" = the peak the
issue measured on a gunicorn worker before this work.

{table(("photo", "worker idle", "issue: peak", "one upload: worker peak", "above idle", "after",
        "four at once: worker peak", "after four", "outcomes"), rows)}
"""
    targets = [{"target": "a gunicorn worker never above ~400 MB, four admin uploads at once",
                "measured": mb(worst_peak), "met": worst_peak <= 400 * 1024 * 1024}]
    write_section("memory_gunicorn", "6. memory_gunicorn — a real gunicorn worker receiving admin uploads", body,
                  targets, time.perf_counter() - started)
    say(f"wrote the memory_gunicorn section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
