"""What every benchmark shares: Django set up on a throwaway database, temporary folders, a TLS
certificate, storages pointed at a benchmark server, timing helpers and the RESULTS.md writer.

Benchmarks measure and print; they never assert a timing (they are not tests)."""

import atexit
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BENCH = PROJECT / "bench"
WORK = BENCH / ".work"  # git-ignored: generated photos, cached between runs
RESULTS = BENCH / "RESULTS.md"
DELAY = float(os.environ.get("BENCH_DELAY", "0.030"))  # the simulated WAN: seconds per reply / round trip

_temporary_dirs = []


def temporary_dir(label):
    path = Path(tempfile.mkdtemp(prefix=f"cmtch-bench-{label}-"))
    _temporary_dirs.append(path)
    return path


@atexit.register
def _remove_temporary_dirs():
    for path in _temporary_dirs:
        shutil.rmtree(path, ignore_errors=True)


def setup_django(test_database=None):
    """cmtch.settings on a throwaway test database (Django's own test-database machinery: an
    in-memory SQLite, or test_<name> on the DATABASE_URL's server, destroyed at exit).
    ``test_database``: its name instead (for SQLite a file path: several threads, real locks)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmtch.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-production")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("EMBEDDED_HOSTGATOR_DIR"):
        os.environ["EMBEDDED_HOSTGATOR_DIR"] = str(temporary_dir("embedded"))
    # Never the real host: every benchmark starts its own servers on loopback.
    os.environ.pop("HOSTGATOR_FTP_PASSWORD", None)
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import warnings

    import django

    # WhiteNoise warns that collectstatic's folder is missing: pages here never serve static files.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    if test_database:
        connection.settings_dict["TEST"]["NAME"] = str(test_database)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    atexit.register(lambda: connection.creation.destroy_test_db(old_name, verbosity=0))


def plain_static_storages():
    """settings.STORAGES for pages rendered without collectstatic (the manifest storage is for production)."""
    from django.conf import settings

    return {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def certificate():
    """(cert, key) of a fresh self-signed certificate for 127.0.0.1."""
    from tests.ftp_servers import write_certificate

    return tuple(str(path) for path in write_certificate(temporary_dir("tls")))


def our_storage(server_settings, **overrides):
    """A HostGatorStorage of its own (own pool) pointed at a benchmark server."""
    from storage.backends import HostGatorStorage

    values = {
        "host": server_settings["HOST"], "port": server_settings["PORT"], "user": server_settings["USER"],
        "password": server_settings["PASSWORD"], "remote_dir": server_settings["DIR"],
        "base_url": server_settings["PUBLIC_URL"], "tls": server_settings["TLS"],
        "ca_file": server_settings["CA_FILE"], "tls_fingerprint": None, "timeout": 15.0, "passive": True,
        "max_connections": server_settings.get("MAX_CONNECTIONS", 4), "file_mode": "644",
    }
    values.update(overrides)
    return HostGatorStorage(**values)


def stock_storage(server, scheme="ftp"):
    """django-storages 1.14.6's FTPStorage as its documentation configures it."""
    from storages.backends.ftp import FTPStorage

    location = (f"{scheme}://{server.user}:{server.password}@127.0.0.1:{server.port}"
                f"/public_html/static/article_images/")
    return FTPStorage(location=location, base_url=server.public_url)


def connections_of(storage):
    """The FTPConnection objects idle in our storage's pool (all of them, between operations)."""
    return list(storage.pool._idle) if getattr(storage, "_pool", None) is not None else []


def round_trips_of(storage):
    return sum(connection.round_trips for connection in connections_of(storage))


@contextmanager
def stopwatch():
    """with stopwatch() as elapsed: ...; elapsed() -> seconds (frozen at exit)."""
    start = time.perf_counter()
    end = None

    def elapsed():
        return (end or time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


def median(values):
    return statistics.median(values) if values else float("nan")


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def secs(seconds):
    return f"{seconds:.1f} s" if seconds >= 10 else f"{seconds:.2f} s"


def ratio(value):
    return f"{value:.2f}×"


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verbs_summary(verbs):
    """['PASV', 'STOR', 'SIZE'] -> 'PASV STOR SIZE' with runs compressed (CWD ×3)."""
    out, previous, count = [], None, 0
    for verb in [*verbs, None]:
        if verb == previous:
            count += 1
            continue
        if previous is not None:
            out.append(previous if count == 1 else f"{previous} ×{count}")
        previous, count = verb, 1
    return " ".join(out)


def machine_line():
    import PIL
    import storages

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    one, five, fifteen = os.getloadavg()  # the 2 cores are shared: note what else ran
    load = f"load average {one:.1f} {five:.1f} {fifteen:.1f}"
    return (f"{os.cpu_count()} cores ({cpu}, {load} at the end), Python {platform.python_version()}, "
            f"Pillow {PIL.__version__}, django-storages {storages.__version__}")


# --- RESULTS.md ---------------------------------------------------------------------------------

ORDER = ("storage_uploads", "photo_pages", "photo_save", "migration", "memory", "memory_gunicorn", "login",
         "host_limits", "gallery_upload", "delivery")
TARGETS_COMMENT = re.compile(r"<!-- targets: (.*?) -->")


def write_section(name, title, body, targets, seconds):
    """Replace (or add) this benchmark's section of RESULTS.md, then rebuild the targets summary.

    ``targets``: [{"target": ..., "measured": ..., "met": bool}] shown in the summary at the top."""
    sections = _read_sections()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections[name] = (f"## {title}\n\n<!-- targets: {json.dumps(targets, ensure_ascii=False)} -->\n"
                      f"_Run {stamp}, {seconds:.0f} s, `python -m bench.{name}`; {machine_line()}._\n\n"
                      f"{body.strip()}\n")
    _write(sections)


def _read_sections():
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text()
    sections = {}
    for match in re.finditer(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->", text, re.S):
        sections[match[1]] = match[2]
    return sections


def _write(sections):
    summary = []
    for name in ORDER:
        if name not in sections:
            continue
        found = TARGETS_COMMENT.search(sections[name])
        for target in json.loads(found[1]) if found else []:
            summary.append((f"`{name}`", target["target"], target["measured"],
                            "**met**" if target["met"] else "**missed**"))
    parts = [
        "# cmtch benchmarks — photos to HostGator over FTP(S)",
        "",
        "Regenerated by `bench/run` (all) or `.venv/bin/python -m bench.<name>` (one section). Benchmarks, not "
        "tests: they print figures, assert nothing. Servers: `tests/ftp_servers.py`'s InstrumentedHostGator "
        "(pyftpdlib standing in for Pure-FTPd) on loopback, in a child process, every command recorded "
        "server-side. Data connections are not delayed (no TCP/TLS handshake cost, unlimited bandwidth). The "
        "machine's 2 cores are shared with other work: each section notes the load average.",
        "",
        "**Two simulated WANs** (`bench/servers.py`). **Per reply**: every command is answered 30 ms late, one "
        "after the other, even commands sent together in one pipeline; so only sending fewer commands helps, and "
        "ours can be at most about (stock's commands) ÷ (ours) faster than stock, however it pipelines. **Per "
        "round trip**: 30 ms once each time the client waits for a reply; commands sent together share it. That "
        "is what a real WAN does, since ours sends a pipeline in one write with Nagle's algorithm off, so it "
        "crosses the network once. The targets are set in the per-reply model.",
        "",
        "## Targets",
        "",
        table(("benchmark", "target", "measured", ""), summary) if summary else "_no benchmark run yet_",
        "",
    ]
    for name in [*ORDER, *sorted(set(sections) - set(ORDER))]:
        if name in sections:
            parts += [f"<!-- bench:{name} -->", sections[name].rstrip("\n") + "\n" + f"<!-- /bench:{name} -->", ""]
    RESULTS.write_text("\n".join(parts))


def say(*lines):
    for line in lines:
        print(line, flush=True)
