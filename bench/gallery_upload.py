"""Issue 9's gallery: 30 phone photos (12 MP JPEG with EXIF, bench/photos.py) dropped at once on a new
article, as the admin's drop zone sends them: one multipart request per file to the upload endpoint,
2 in flight (what static/js/admin_gallery_requests.js sends) or 3 (what it sent before), then the
article saved with the 30 photos in its gallery (the admin's add form with 30 inline rows). The server
is the real gunicorn of the Procfile (bench/servers.py's Site) running the app as shipped, its photos
going by FTPS to a TLS server at 30 ms per round trip; on this machine's 2 cores, then with gunicorn on
one (``taskset -c 0``; the client and the FTP server on the other) to estimate Render's 0.1 CPU.

Figures: wall time until all 30 are on the store and attached, each request's latency, the worker's
idle and peak RSS and its CPU seconds per photo, and the CPU the rest of the machine took meanwhile
(its cores are shared); checked afterwards: 30 gallery rows, every photo on the store with its
renditions. Each configuration runs BENCH_GALLERY_ROUNDS times, alternating, and the fastest round is
shown. Then two diagnostic runs (one request at a time; two decode slots) and
bench/gallery_breakdown.py: where a photo's time goes, old vs shipped JPEG decode and decode slot.
bench/gallery_report.py writes the section of RESULTS.md.

    .venv/bin/python -m bench.gallery_upload   (BENCH_GALLERY_PHOTOS=30, BENCH_GALLERY_ROUNDS=2,
                                                BENCH_GALLERY_DIAGNOSE=0 skips the diagnostic runs;
                                                PostgreSQL when DATABASE_URL is set)
"""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import DELAY, certificate, ms, say, secs, setup_django, stopwatch, temporary_dir, write_section
from bench.gallery_breakdown import where_time_goes
from bench.gallery_report import body_text, result_row, targets
from bench.photos import phone_photo
from bench.servers import Editor, ServerProcess, Site, cpu_seconds, proc_status

PHOTOS = int(os.environ.get("BENCH_GALLERY_PHOTOS", "30"))
ROUNDS = int(os.environ.get("BENCH_GALLERY_ROUNDS", "2"))
DIAGNOSE = os.environ.get("BENCH_GALLERY_DIAGNOSE", "1") != "0"
DATABASE = "cmtch_bench_gallery"  # on DATABASE_URL's PostgreSQL server, made and dropped for each run
UPLOAD = "/admin/articles/photo/envoi/"  # reverse("admin:articles_photo_upload")
WORKER_CORE = 0


@dataclass(frozen=True)
class Run:
    label: str
    in_flight: int
    one_core: bool = False
    environment: dict = field(default_factory=dict)


MAIN_RUNS = [Run("2 cores", 2), Run("2 cores", 3), Run("1 core", 2, one_core=True), Run("1 core", 3, one_core=True)]
DIAGNOSTIC_RUNS = {"serial": Run("2 cores, one request at a time", 1),
                   "two slots": Run("2 cores, `PHOTO_DECODES_AT_ONCE=2`", 2,
                                    environment={"PHOTO_DECODES_AT_ONCE": "2"})}

# Run in the site's manage.py shell once the article is saved: what is really in its gallery.
GALLERY_CHECK = """
import json
from articles.models import Article, PendingUpload
from storage.names import rendition_name
article = Article.objects.get(title={title})
placements = list(article.placements.select_related("photo").order_by("position"))
print(json.dumps({{
    "placements": len(placements), "on_store": sum(p.photo.on_store for p in placements),
    "cover": bool(placements) and article.cover_id == placements[0].photo_id,
    "pending": PendingUpload.objects.count(),
    "files": [name for p in placements for name in [p.photo.name, *(rendition_name(p.photo.name, width)
                                                                    for width in p.photo.renditions)]]}}))
"""


# --- the client: the drop zone's requests -------------------------------------------------------

def upload_photo(editor, token, index, data, started):
    """One file as the drop zone sends it: its own multipart request, ``file`` and ``slug``."""
    with stopwatch() as elapsed:
        status, body = editor.post(UPLOAD, {"slug": "tournoi-des-jeunes"}, {"file": (f"IMG_{index:04d}.jpg", data)},
                                   token=token)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"error": body[:80]}
    return {"status": status, "seconds": elapsed(), "done_at": time.perf_counter() - started, "answer": answer}


def drop_photos(editor, token, photos, in_flight, started):
    """All the files, ``in_flight`` requests at a time (the browser's queue)."""
    with ThreadPoolExecutor(in_flight, thread_name_prefix="drop") as queue:
        return list(queue.map(lambda item: upload_photo(editor, token, *item, started), enumerate(photos)))


# --- one run ------------------------------------------------------------------------------------

def busy_seconds():
    """{"cpu": busy seconds of all cores so far, "cpu0": of core 0, ...} from /proc/stat."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu"):
            name, *values = line.split()
            ticks = [int(value) for value in values[:8]]
            busy[name] = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    return busy


def pin_elsewhere(server):
    """A one-core run: gunicorn alone on WORKER_CORE (taskset); this process (the client: its threads
    are made later and inherit it) and the FTP server on the other cores."""
    others = os.sched_getaffinity(0) - {WORKER_CORE}
    os.sched_setaffinity(0, others)
    os.sched_setaffinity(server.pid, others)


def checked_gallery(site, server, title):
    found = json.loads(site.manage("shell", "--no-imports", "-c", GALLERY_CHECK.format(title=json.dumps(title))))
    found["files_on_store"] = sum((server.root / name).is_file() for name in found["files"])
    return found


def gallery_run(run, photos, cert, database):
    everywhere = os.sched_getaffinity(0)
    title = f"Tournoi des jeunes — {run.label}, {run.in_flight} en parallèle, {time.monotonic_ns()}"
    with (ServerProcess(temporary_dir("gallery-ftp"), cert, DELAY, "per_round_trip") as server,
          Site(server, database) as site,
          site.gunicorn(str(WORKER_CORE) if run.one_core else None, **run.environment) as worker):
        try:
            if run.one_core:
                pin_elsewhere(server)
            editor = site.editor()
            token = editor.csrf_token(Editor.ADD_ARTICLE)  # the editor opens the add page: the drop zone
            idle = proc_status(worker, "VmRSS")
            before = (cpu_seconds(worker), cpu_seconds(server.pid), time.process_time(), busy_seconds())
            server.forget()
            with stopwatch() as total:
                started = time.perf_counter()
                uploads = drop_photos(editor, token, photos, run.in_flight, started)
                ids = [upload["answer"]["id"] for upload in uploads if upload["status"] == 201]
                with stopwatch() as save:
                    saved = editor.add_article(title, gallery=ids, token=token)
            worker_cpu, server_cpu = cpu_seconds(worker) - before[0], cpu_seconds(server.pid) - before[1]
            client_cpu, busy = time.process_time() - before[2], busy_seconds()
            peak, after = proc_status(worker, "VmHWM"), proc_status(worker, "VmRSS")
            waits, commands, sessions = server.waits(), len(server.commands()), server.sessions()
        finally:
            os.sched_setaffinity(0, everywhere)
        gallery = checked_gallery(site, server, title)
    if run.one_core:  # everything else that ran on the worker's core
        others = busy[f"cpu{WORKER_CORE}"] - before[3][f"cpu{WORKER_CORE}"] - worker_cpu
    else:  # everything else on the machine: other people's work, PostgreSQL
        others = busy["cpu"] - before[3]["cpu"] - worker_cpu - server_cpu - client_cpu
    return {"run": run, "total": total(), "uploads": max(upload["done_at"] for upload in uploads), "save": save(),
            "saved": saved, "latencies": [upload["seconds"] for upload in uploads],
            "states": [upload["answer"].get("state") or f"{upload['status']} {upload['answer'].get('error', '')[:50]}"
                       for upload in uploads],
            "idle": idle, "peak": peak, "after": after, "cpu": worker_cpu, "server_cpu": server_cpu,
            "others": max(0.0, others) / total(), "waits": waits, "commands": commands, "sessions": sessions,
            "gallery": gallery, "stored_sizes": sorted({f"{upload['answer']['width']}×{upload['answer']['height']}"
                                                        for upload in uploads if "width" in upload["answer"]})}


def run_all(photos, cert, database):
    """The main runs ROUNDS times, alternating (odd rounds backwards), then the diagnostic ones; the
    fastest round of each main configuration, and every round's total."""
    rounds, best, diagnostics = {}, {}, {}
    for number in range(ROUNDS):
        for run in MAIN_RUNS if number % 2 == 0 else MAIN_RUNS[::-1]:
            result = gallery_run(run, photos, cert, database)
            key = (run.label, run.in_flight)
            rounds.setdefault(key, []).append(result["total"])
            if key not in best or result["total"] < best[key]["total"]:
                best[key] = result
            say(f"round {number + 1}: " + " | ".join(str(cell) for cell in result_row(result)))
    for name, run in DIAGNOSTIC_RUNS.items() if DIAGNOSE else ():
        diagnostics[name] = gallery_run(run, photos, cert, database)
        say("diagnostic: " + " | ".join(str(cell) for cell in result_row(diagnostics[name])))
    return [best[(run.label, run.in_flight)] for run in MAIN_RUNS], rounds, diagnostics


def main():
    started = time.perf_counter()
    photos = [phone_photo(index) for index in range(PHOTOS)]
    cert = certificate()
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    best, rounds, diagnostics = run_all(photos, cert, DATABASE if postgres else None)
    breakdown = where_time_goes(photos, cert)
    slots = breakdown["slots"]
    say(f"process_photo CPU {ms(breakdown['old']['cpu'])} before, {ms(breakdown['shipped']['cpu'])} shipped; "
        f"FTP 3 files {ms(breakdown['upload']['time'])}; slot max wait {secs(max(slots['racing']['latencies']))} "
        f"racing, {secs(max(slots['shipped']['latencies']))} shipped")
    body = body_text(best, rounds, diagnostics, breakdown, PHOTOS,
                     f"PostgreSQL (`{DATABASE}`)" if postgres else "SQLite (a file)", WORKER_CORE)
    write_section("gallery_upload", "9. gallery_upload — 30 phone photos dropped at once", body,
                  targets(best, diagnostics, PHOTOS), time.perf_counter() - started)
    say(f"wrote the gallery_upload section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    setup_django(test_database=f"test_{DATABASE}" if postgres else None)  # this process: the breakdown only
    main()
