"""The benchmarks' HostGator: tests/ftp_servers.py's InstrumentedHostGator (real pyftpdlib on loopback,
every command recorded), run in a child process so that the client under test (ours, stock
FTPStorage, lftp) never shares a GIL or a core's worth of Python with the server.

Two ways of simulating the WAN to HostGator, both as server-side delays before a reply:

- ``per_reply`` (the default; InstrumentedHostGator's own ``latency``): every command is answered
  ``delay`` seconds late, one after the other. A client that pipelines three commands waits 3 x delay,
  exactly as one that sends them one by one: only *fewer commands* help.
- ``per_round_trip`` (``RoundTripLatency`` below): a command is answered ``delay`` late only if the
  client waited for the previous reply before sending it; commands sent before the previous reply
  went out (pipelined) ride in the same round trip. This is what a real WAN does to the control
  connection (data connections are not delayed in either model: no TCP or TLS handshake costs).

And the site itself (``Site``): migrated, an admin account, gunicorn started by the Procfile's own
command, its photos going to one of those servers (or to the embedded one); ``Editor`` is an admin
session on it (login, CSRF, multipart POSTs), as a browser's.
"""

import http.cookiejar
import multiprocessing
import os
import re
import secrets
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench.common import PROJECT, temporary_dir
from tests.ftp_servers import InstrumentedHostGator, RecordingFaultyHandler, start_hostgator

MODELS = ("per_reply", "per_round_trip")


class RoundTripLatency:
    """Control-connection mixin: ``hostgator.round_trip_latency`` once per client round trip.

    Whether the client waited: just before each reply goes out, is the next command already here
    (in asynchat's buffer, in OpenSSL's, or in the kernel's)? If so the client sent it without
    having seen this reply, i.e. pipelined it, and it is answered without a new delay. Checked
    *before* the reply is sent, so a client that waits can never be mistaken for one that pipelines."""

    _next_is_pipelined = False

    def respond(self, resp, *args, **kwargs):
        self._next_is_pipelined = self._input_waiting()
        super().respond(resp, *args, **kwargs)

    def _input_waiting(self):
        if getattr(self, "ac_in_buffer", b""):
            return True
        sock = self.socket
        if sock is None:
            return False
        pending = getattr(sock, "pending", None)
        try:
            if pending is not None and pending() > 0:
                return True
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)

    def pre_process_command(self, line, cmd, arg):
        delay = self.hostgator.round_trip_latency
        if not self._next_is_pipelined:
            self.hostgator._count_wait()
            if delay:
                time.sleep(delay)
        self._next_is_pipelined = False
        super().pre_process_command(line, cmd, arg)


class RoundTripHostGator(InstrumentedHostGator):
    handler_mixins = (RoundTripLatency, RecordingFaultyHandler)

    def __init__(self, *args, round_trip_latency=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.round_trip_latency = round_trip_latency
        self.waits = 0  # commands the client sent only after the previous reply: its round trips

    def _count_wait(self):
        with self._lock:
            self.waits += 1

    def forget_commands(self):
        super().forget_commands()
        with self._lock:
            self.waits = 0


def _start(base_dir, certificate, delay, model):
    if model == "per_reply":
        return start_hostgator(base_dir, certificate, latency=delay)
    certfile, keyfile = certificate or (None, None)
    import secrets

    server = RoundTripHostGator(base_dir / "ftp-root", secrets.token_urlsafe(16), certfile=certfile,
                                keyfile=keyfile, round_trip_latency=delay)
    return server.start()


def _serve(channel, base_dir, certificate, delay, model):
    server = _start(Path(base_dir), certificate, delay, model)
    channel.send({"settings": server.settings, "root": str(server.root), "public_url": server.public_url})
    try:
        while True:
            request, *arguments = channel.recv()
            if request == "commands":
                channel.send([tuple(command) for command in server.commands])
            elif request == "forget":
                server.forget_commands()
                channel.send(None)
            elif request == "waits":
                channel.send(getattr(server, "waits", None))
            elif request == "sessions":
                channel.send(server.sessions)
            elif request == "delay":
                if model == "per_reply":
                    server.latency = arguments[0]
                else:
                    server.round_trip_latency = arguments[0]
                channel.send(None)
            elif request == "stop":
                break
    except EOFError:
        pass
    finally:
        server.close()
        channel.close()


class ServerProcess:
    """An InstrumentedHostGator in a child process (spawned: no inherited threads or Django state).

    ``settings``: HOSTGATOR_FTP for it (TLS with ``certificate`` = (cert, key), plain FTP without);
    ``root``: the photo folder on disk (FTP /public_html/static/article_images/); ``commands()``:
    [(session, verb, argument)]; ``forget()``; ``set_delay(seconds)``; ``stop()``."""

    def __init__(self, base_dir, certificate=None, delay=0.030, model="per_reply"):
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}")
        base_dir = Path(base_dir)
        base_dir.mkdir(parents=True, exist_ok=True)
        self.model, self.delay, self.tls = model, delay, certificate is not None
        context = multiprocessing.get_context("spawn")
        self._channel, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, str(base_dir), certificate, delay, model),
                                        name=f"bench-ftp-{model}", daemon=True)
        self._process.start()
        child.close()
        if not self._channel.poll(30):
            self._process.kill()
            raise RuntimeError("the benchmark FTP server did not start within 30 s")
        started = self._channel.recv()
        self.settings = started["settings"]
        self.root = Path(started["root"])
        self.public_url = started["public_url"]
        self.port = self.settings["PORT"]
        self.password = self.settings["PASSWORD"]
        self.user = self.settings["USER"]

    @property
    def pid(self):
        """The server process's id (to read its CPU time, or pin it to a core)."""
        return self._process.pid

    def _ask(self, *request):
        self._channel.send(request)
        return self._channel.recv()

    def commands(self):
        return self._ask("commands")

    def verbs(self):
        return [verb for _session, verb, _argument in self.commands()]

    def forget(self):
        self._ask("forget")

    def waits(self):
        """per_round_trip model: round trips as the server saw them (commands not pipelined) since
        the last forget(); None in the per_reply model."""
        return self._ask("waits")

    def sessions(self):
        return self._ask("sessions")

    def set_delay(self, seconds):
        self._ask("delay", seconds)

    def stop(self):
        if self._process is None:
            return
        try:
            self._channel.send(("stop",))
        except OSError:
            pass
        self._process.join(timeout=20)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._channel.close()
        self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


# --- The site itself, under gunicorn --------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proc_status(pid, field):
    """A size field of /proc/<pid>/status (VmRSS, VmHWM...) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # fields 3... of proc(5)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hostgator_environment(server_settings):
    """The HOSTGATOR_* variables that point the site at a benchmark server (and trust its certificate)."""
    return {"HOSTGATOR_FTP_PASSWORD": server_settings["PASSWORD"], "HOSTGATOR_FTP_HOST": server_settings["HOST"],
            "HOSTGATOR_FTP_PORT": str(server_settings["PORT"]), "HOSTGATOR_FTP_USER": server_settings["USER"],
            "HOSTGATOR_FTP_DIR": server_settings["DIR"], "HOSTGATOR_PUBLIC_URL": server_settings["PUBLIC_URL"],
            "HOSTGATOR_FTP_TLS": server_settings["TLS"], "HOSTGATOR_FTP_CA_FILE": server_settings["CA_FILE"] or ""}


class Site:
    """A throwaway site: collectstatic (as Render's build does: DEBUG off serves the manifest's
    names), a migrated database, an admin account, and gunicorn as the Procfile starts it
    (``gunicorn()``). Photos go to ``hostgator`` (a ServerProcess, its certificate trusted) or, without
    one, to the embedded server started here. ``database``: a PostgreSQL database of that name, made
    afresh on DATABASE_URL's server and dropped at the end; without, a SQLite file."""

    def __init__(self, hostgator=None, database=None):
        self.state = temporary_dir("gunicorn-site")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.database = database
        database_url = self._postgres_url(database) if database else f"sqlite:///{self.state / 'site.db'}"
        self.env = {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECURE_SSL_REDIRECT": "0", "PORT": str(self.port),
                    "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DATABASE_URL": database_url,
                    "ADMIN_PASSWORD": self.password}
        self.env.pop("HOSTGATOR_FTP_PASSWORD", None)
        if hostgator is None:
            self.env.update({"EMBEDDED_HOSTGATOR_DIR": str(self.state / "embedded"),
                             "EMBEDDED_FTP_PORT": str(free_port()), "EMBEDDED_HTTP_PORT": str(free_port())})
        else:
            self.env.update(hostgator_environment(hostgator.settings))
        self.processes = []

    @staticmethod
    def _postgres_url(name):
        return urllib.parse.urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()

    def _on_postgres_server(self, statement):
        import psycopg2

        connection = psycopg2.connect(self._postgres_url("postgres"))
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def manage(self, *args):
        """manage.py with the site's environment; its standard output."""
        return subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def __enter__(self):
        if self.database:
            self._on_postgres_server(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._on_postgres_server(f'CREATE DATABASE "{self.database}"')
        self.manage("collectstatic", "--noinput")
        self.manage("migrate", "--noinput")
        self.manage("shell", "-c", "import os; from django.contrib.auth import get_user_model; "
                                   "get_user_model().objects.create_superuser('admin', 'a@localhost', "
                                   "os.environ['ADMIN_PASSWORD'])")
        if "EMBEDDED_HOSTGATOR_DIR" in self.env:
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "storage.embedded", "--state-dir", self.env["EMBEDDED_HOSTGATOR_DIR"]],
                cwd=PROJECT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
            process.wait(timeout=30)
        if self.database:
            self._on_postgres_server(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    @contextmanager
    def gunicorn(self, cpus=None, **environment):
        """The Procfile's command, run through a shell as Render and Procfile runners do, under
        ``taskset -c <cpus>`` when given (gunicorn's worker inherits it), with ``environment`` added
        (e.g. PHOTO_DECODES_AT_ONCE="2"). Yields the worker's pid; gunicorn stops at the end."""
        command = (PROJECT / "Procfile").read_text().split("web:", 1)[1].strip()
        command = command.replace("gunicorn ", f"{shlex.quote(str(Path(sys.executable).parent / 'gunicorn'))} ", 1)
        pid_file = self.state / f"gunicorn-{secrets.token_hex(4)}.pid"
        pinned = ["taskset", "-c", cpus] if cpus else []
        shell = subprocess.Popen([*pinned, "bash", "-c", f"{command} --pid {pid_file}"], cwd=PROJECT,
                                 env={**self.env, **environment}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            self._wait_until_up(shell)
            master = int(pid_file.read_text())
            workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True)
            worker = int(workers.stdout.split()[0])
        except BaseException:
            shell.kill()
            raise
        try:
            yield worker
        finally:
            os.kill(master, signal.SIGTERM)
            shell.wait(timeout=60)

    def _wait_until_up(self, shell):
        for _ in range(600):
            if shell.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({shell.returncode}) before answering")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer /healthz within a minute")

    def editor(self):
        return Editor(self.base, self.password)


class PlainHttpCookies(http.cookiejar.DefaultCookiePolicy):
    """Send the site's Secure cookies (session, CSRF) over plain HTTP on loopback: in production
    Render's proxy terminates TLS in front of gunicorn, so the worker never sees HTTPS either."""

    def return_ok_secure(self, cookie, request):
        return True


class EveryStatus(urllib.request.HTTPErrorProcessor):
    """Every response handed back as it came: a 302 (a saved admin form) or a 400 (a refused photo)
    is a result here, not an exception, and redirects are not followed."""

    def http_response(self, request, response):
        return response

    https_response = http_response


def multipart(fields, files=None):
    """(body, content type) of a multipart/form-data POST; ``files``: {name: (filename, bytes)}."""
    boundary = secrets.token_hex(16)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    for name, (filename, data) in (files or {}).items():
        parts += [(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n").encode(), data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def gallery_rows(photo_ids):
    """The article form's gallery inline (prefix "placements") as the drop zone fills it: one row per
    photo, in order, the first one the cover, each with its alt text."""
    rows = {"placements-TOTAL_FORMS": len(photo_ids), "placements-INITIAL_FORMS": 0,
            "placements-MIN_NUM_FORMS": 0, "placements-MAX_NUM_FORMS": 1000}
    for index, photo_id in enumerate(photo_ids):
        prefix = f"placements-{index}-"
        rows.update({f"{prefix}id": "", f"{prefix}article": "", f"{prefix}photo": photo_id,
                     f"{prefix}position": index, f"{prefix}caption": "", f"{prefix}credit": "",
                     f"{prefix}alt_text": f"Photo {index + 1} du match", f"{prefix}focal_x": "0.5",
                     f"{prefix}focal_y": "0.5"})
        if index == 0:
            rows[f"{prefix}is_cover"] = "on"
    return rows


class Editor:
    """One logged-in admin session (urllib, cookies, CSRF) on the site at ``base``. Thread-safe
    enough for several requests in flight at once, as a browser's tabs or fetches (the cookie jar
    locks; each request opens its own connection)."""

    ADD_ARTICLE = "/admin/articles/article/add/"

    def __init__(self, base, password, username="admin"):
        self.base = base
        cookies = http.cookiejar.CookieJar(PlainHttpCookies())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies), EveryStatus)
        status, _page = self.post("/admin/login/?next=/admin/", {"username": username, "password": password,
                                                                  "next": "/admin/"}, form_path="/admin/login/")
        if status != 302:
            raise RuntimeError(f"the admin login answered {status}, not a redirect: refused")

    def request(self, path, body=None, headers=None):
        """(status, body as text) of a GET, or a POST when ``body`` is given."""
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        with self.opener.open(request, timeout=600) as response:
            return response.status, response.read().decode()

    def get(self, path):
        return self.request(path)[1]

    def csrf_token(self, path):
        """The CSRF token of the form on the page at ``path``."""
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(path))[1]

    def post(self, path, fields, files=None, form_path=None, token=None):
        """A multipart POST with the CSRF token of the form at ``form_path`` (default ``path``),
        or ``token`` already read; (status, body)."""
        fields = {**fields, "csrfmiddlewaretoken": token or self.csrf_token(form_path or path)}
        body, content_type = multipart(fields, files)
        return self.request(path, body, {"Content-Type": content_type, "Referer": self.base + path})

    def add_article(self, title, photo=None, gallery=(), token=None):
        """The admin's "add article" form, saved: ``photo`` (filename, bytes) through its no-JS field,
        ``gallery``: ids of photos already uploaded, as inline rows. "saved" or "refused: ..."."""
        when = time.localtime()
        fields = {"title": title, "slug": "", "summary": "Résumé", "body": "Texte", "published": "on",
                  "published_at_0": time.strftime("%d/%m/%Y", when),
                  "published_at_1": time.strftime("%H:%M:%S", when), **gallery_rows(list(gallery))}
        if photo:
            fields["photo_alt_text"] = "Photo"
        status, page = self.post(self.ADD_ARTICLE, fields, {"photo": photo} if photo else None, token=token)
        if status == 302:
            return "saved"
        refused = re.search(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', page, re.S) or re.search(
            r'<p class="errornote">\s*(.*?)\s*</p>', page, re.S)
        return f"refused: {refused[1][:60] if refused else status}…"
