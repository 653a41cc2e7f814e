"""Issue 9's gallery: 30 phone photos (12 MP JPEG with EXIF, bench/photos.py) dropped at once on a new
article, as the admin's drop zone sends them: one multipart request per file to the upload endpoint,
3 (or 2) in flight, then the article saved with the 30 photos in its gallery (the admin's add form with
30 inline rows). The server is the real gunicorn of the Procfile (bench/servers.py's Site), its photos
going by FTPS to a TLS server at 30 ms per round trip; on this machine's 2 cores, then with gunicorn on
one (``taskset -c 0``; the client and the FTP server on the other) to estimate Render's 0.1 CPU.

Figures: wall time until all 30 are on the store and attached, each request's latency, the worker's
idle and peak RSS and its CPU seconds per photo, and the CPU the rest of the machine took meanwhile
(its cores are shared); checked afterwards: 30 gallery rows, every photo on the store with its
renditions. Each configuration runs BENCH_GALLERY_ROUNDS times, alternating, and the fastest round is
shown. Then bench/gallery_breakdown.py: where a photo's time goes, and two diagnostic runs (one request
at a time; two decode slots).

    .venv/bin/python -m bench.gallery_upload   (BENCH_GALLERY_PHOTOS=30, BENCH_GALLERY_ROUNDS=2,
                                                BENCH_GALLERY_DIAGNOSE=0 skips the diagnostic runs;
                                                PostgreSQL when DATABASE_URL is set)
"""

import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    DELAY,
    certificate,
    median,
    ms,
    ratio,
    say,
    secs,
    setup_django,
    stopwatch,
    table,
    temporary_dir,
    write_section,
)
from bench.gallery_breakdown import HALVING_SIDE, PROFILED_PHOTOS, SLOT_THREADS, where_time_goes
from bench.memory import mb
from bench.photos import phone_photo
from bench.servers import Editor, ServerProcess, Site, cpu_seconds, proc_status

PHOTOS = int(os.environ.get("BENCH_GALLERY_PHOTOS", "30"))
ROUNDS = int(os.environ.get("BENCH_GALLERY_ROUNDS", "2"))
DIAGNOSE = os.environ.get("BENCH_GALLERY_DIAGNOSE", "1") != "0"
DATABASE = "cmtch_bench_gallery"  # on DATABASE_URL's PostgreSQL server, made and dropped for each run
UPLOAD = "/admin/articles/photo/envoi/"  # reverse("admin:articles_photo_upload")
WORKER_CORE = 0
TARGET_TOTAL, TARGET_REQUEST, TARGET_PEAK = 30.0, 5.0, 400 * 1024 * 1024
RENDER_CPU = 0.1  # Render free: a tenth of a core
DECODE_WAIT = 60  # settings.PHOTO_DECODE_WAIT_SECONDS: then the editor is told to try again
UPLINK = 10e6  # bits per second: a good 4G upload


@dataclass(frozen=True)
class Run:
    label: str
    in_flight: int
    one_core: bool = False
    environment: dict = field(default_factory=dict)


MAIN_RUNS = [Run("2 cores", 3), Run("2 cores", 2), Run("1 core", 3, one_core=True), Run("1 core", 2, one_core=True)]
DIAGNOSTIC_RUNS = [Run("2 cores, one request at a time", 1),
                   Run("2 cores, `PHOTO_DECODES_AT_ONCE=2`", 3, environment={"PHOTO_DECODES_AT_ONCE": "2"})]

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
            "gallery": gallery}


def complete(result):
    gallery, count = result["gallery"], len(result["latencies"])
    return (result["saved"] == "saved" and gallery["placements"] == count and gallery["on_store"] == count
            and gallery["files_on_store"] == len(gallery["files"]) and gallery["cover"])


# --- the report ---------------------------------------------------------------------------------

def nearest_rank(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def per_photo(result, key="cpu"):
    return result[key] / len(result["latencies"])


def check_cell(result):
    gallery, states = result["gallery"], result["states"]
    others = sorted({state for state in states if state != "uploaded"})
    text = (f"{states.count('uploaded')}/{len(states)} uploaded{' (' + ', '.join(others) + ')' if others else ''}; "
            f"article {result['saved']}: {gallery['placements']} rows, {gallery['on_store']} on the store, "
            f"{gallery['files_on_store']}/{len(gallery['files'])} files, {gallery['pending']} pending")
    return text if complete(result) else f"**{text}**"


HEADERS = ("run", "in flight", "all on the store and attached", "article save", "latency median / p95 / max",
           f"> {TARGET_REQUEST:.0f} s", "worker idle / peak / after", "worker CPU per photo",
           "FTP server CPU per photo", "rest of the machine, cores busy", "FTP round trips per photo", "check")


def result_row(result, rounds=None):
    latencies = result["latencies"]
    total = f"**{secs(result['total'])}**" + (f" (rounds: {', '.join(secs(value) for value in rounds)})"
                                              if rounds and len(rounds) > 1 else "")
    return (result["run"].label, result["run"].in_flight, total, ms(result["save"]),
            f"{secs(median(latencies))} / {secs(nearest_rank(latencies, 0.95))} / {secs(max(latencies))}",
            sum(latency > TARGET_REQUEST for latency in latencies),
            f"{mb(result['idle'])} / **{mb(result['peak'])}** / {mb(result['after'])}",
            f"**{per_photo(result):.2f} s**", f"{per_photo(result, 'server_cpu'):.2f} s", f"{result['others']:.1f}",
            f"{per_photo(result, 'waits'):.1f} ({per_photo(result, 'commands'):.1f} commands, "
            f"{result['sessions']} connections)", check_cell(result))


def find(results, label, in_flight):
    return next((result for result in results if result["run"].label == label and result["run"].in_flight == in_flight),
                None)


def comparison(label, slower, faster):
    return (label, ratio(slower["total"] / faster["total"]),
            ratio(median(slower["latencies"]) / median(faster["latencies"])),
            ratio(max(slower["latencies"]) / max(faster["latencies"])), ratio(per_photo(slower) / per_photo(faster)))


def comparisons(best, diagnostics):
    rows = []
    for cores in ("2 cores", "1 core"):
        three, two = find(best, cores, 3), find(best, cores, 2)
        if three and two:
            rows.append(comparison(f"{cores}: 2 in flight ÷ 3", two, three))
    for in_flight in (3, 2):
        one, both = find(best, "1 core", in_flight), find(best, "2 cores", in_flight)
        if one and both:
            rows.append(comparison(f"{in_flight} in flight: 1 core ÷ 2 cores", one, both))
    slots = find(diagnostics, DIAGNOSTIC_RUNS[1].label, 3)
    if slots and find(best, "2 cores", 3):
        rows.append(comparison("2 cores, 3 in flight: 2 decode slots ÷ 1", slots, find(best, "2 cores", 3)))
    return table(("comparison", "total time", "median latency", "max latency", "CPU per photo"), rows)


def span(values, format_value=lambda value: f"{value:.1f}"):
    low, high = min(values), max(values)
    return format_value(low) if format_value(low) == format_value(high) else f"{format_value(low)}–{format_value(high)}"


def load_note(best):
    """The shared machine: how busy the rest of it kept the cores our runs had."""
    two, one = [r for r in best if not r["run"].one_core], [r for r in best if r["run"].one_core]
    note = (f"During the 2-core runs the rest of the machine (other sessions' tests on these shared cores, PostgreSQL) "
            f"kept {span([r['others'] for r in two])} of the 2 cores busy; on the 1-core runs' core, "
            f"{span([r['others'] for r in one])}.")
    if median([r["others"] for r in two]) > median([r["others"] for r in one]) + 0.5:
        note += (" So the \"2 cores\" runs had less free CPU than their name says, and \"1 core ÷ 2 cores\" above "
                 "flatters one core: read the 2-core figures as the pessimistic ones.")
    return note


def pillow_line(shipped, cpu_per_photo):
    worker = median(cpu_per_photo)
    if shipped["cpu"] >= 0.8 * worker:
        share = (f"**Pillow is nearly all of the worker's CPU**: `process_photo` takes {ms(shipped['cpu'])} of CPU "
                 f"here, the worker {ms(worker)} per photo (median of the 4 runs); the rest of a request (the "
                 "body parsed, TLS to the FTP server, the parked bytes written to and deleted from the database, "
                 "Django) is within this shared machine's noise.")
    else:
        share = (f"**Pillow is {100 * shipped['cpu'] / worker:.0f} % of the worker's CPU per photo** "
                 f"({ms(shipped['cpu'])} of {ms(worker)}, median of the 4 runs); the rest "
                 f"(~{ms(worker - shipped['cpu'])}) is the body parsed, TLS to the FTP server, the parked bytes "
                 "written to and deleted from the database, Django.")
    return (f"- {share} Its largest step is the resize of the full 12 MP decode to 2048 px (`normalise`): a phone's "
            "4032 px is just under twice 2048, so libjpeg's free 1/2 scale (`draft`) cannot be used.")


def floor_line(best, diagnostics, count):
    one_core = [r for r in best if r["run"].one_core]
    two_cores = [r for r in best if not r["run"].one_core]
    floor = count * median([per_photo(r) for r in best])
    line = (f"- **One decode slot, like one core, puts the photos' processing in a row**: {count} × the worker's CPU "
            f"per photo ≈ {secs(floor)} whatever the number in flight. Measured: 1 core "
            f"{span([r['total'] for r in one_core], secs)} (the worker busy "
            f"{span([r['cpu'] / r['total'] for r in one_core], lambda v: f'{100 * v:.0f} %')} of the time: "
            f"CPU-bound), 2 cores {span([r['total'] for r in two_cores], secs)}.")
    slots = find(diagnostics, DIAGNOSTIC_RUNS[1].label, 3)
    if slots:
        line += (f" With `PHOTO_DECODES_AT_ONCE=2` on 2 cores: {secs(slots['total'])}, longest request "
                 f"{secs(max(slots['latencies']))}, worker peak {mb(slots['peak'])}, the worker using "
                 f"{slots['cpu'] / slots['total']:.1f} cores while the rest of the machine took "
                 f"{slots['others']:.1f}. On Render's fraction of one core a second slot would gain nothing.")
    serial = find(diagnostics, DIAGNOSTIC_RUNS[0].label, 1)
    if serial:
        line += (f" One request at a time: {secs(median(serial['latencies']))} per request (median), "
                 f"{secs(serial['total'])} in all: with 2–3 in flight one photo's FTP upload and request handling "
                 "overlap the next one's decode.")
    return line


def slot_text(slots, best, count):
    shipped, first_come = slots["shipped"], slots["first come"]
    worst, fair_worst = max(shipped["latencies"]), max(first_come["latencies"])
    measured = (f"{count} photos, {SLOT_THREADS} at a time, as the upload view treats them (`process_photo` in "
                "the slot, then `save_many` to the FTP server outside it), this process on one core: latency "
                f"median {secs(median(shipped['latencies']))}, **max {secs(worst)}**, batch "
                f"{secs(shipped['total'])}. The same with `FirstComeSlots` (bench/gallery_breakdown.py: a ticket "
                f"each, the slot goes to the oldest): median {secs(median(first_come['latencies']))}, **max "
                f"{secs(fair_worst)}**, batch {secs(first_come['total'])}.")
    gunicorn = "Through gunicorn (the runs above), p95 / max latency: " + "; ".join(
        f"{result['run'].label}, {result['run'].in_flight} in flight {secs(nearest_rank(result['latencies'], 0.95))} / "
        f"{secs(max(result['latencies']))}" for result in best) + "."
    if worst <= 2 * fair_worst:
        return f"- **The decode slot's order of service**: {measured} No request was passed over much. {gunicorn}"
    on_render = worst / RENDER_CPU  # this process was CPU-bound on its one core; Render has a tenth of one
    versus = "past" if on_render > DECODE_WAIT else "close to"
    return f"""- **The decode slot is not first come, first served.** When it frees, `DecodeSlots` wakes every waiter
  and the first thread to run takes it (or a request just arriving does), so a request can lose that race again and
  again. {measured} {gunicorn} With 2 in flight only one request waits at a time, so it is next. On Render's tenth of
  a core the worst wait above would be ~{on_render:.0f} s — {versus} `PHOTO_DECODE_WAIT_SECONDS`={DECODE_WAIT}, after
  which the photo is refused ("Le serveur traite déjà d'autres photos…"): in a {count}-photo drop with 3 in flight,
  photos can be lost to a race, not to load."""


def both(timing):
    return f"{ms(timing['wall'])} wall, {ms(timing['cpu'])} CPU"


def breakdown_table(breakdown):
    shipped, upload = breakdown["shipped"], breakdown["upload"]
    sizes = ", ".join(f"{size / 1e3:.0f} KB" for size in breakdown["sizes"])
    return table(("step", "time"), [
        ("`process_photo` (checks, 12 MP decode, resize to 2048 px, sRGB, encode + 1024w + 480w)", both(shipped)),
        *((f"&nbsp;&nbsp;{name} (cProfile, cumulative, one photo)", value)
          for name, value in breakdown["steps"] if name != "process_photo"),
        (f"`process_photo` with `max_side` {HALVING_SIDE} (libjpeg's draft decodes at 1/2: no 12 MP resize)",
         both(breakdown["halved"])),
        (f"Django's multipart parser, one {breakdown['photo_bytes'] / 1e6:.1f} MB request body",
         both(breakdown["parse"])),
        (f"FTP: the 3 files ({sizes}), `save_many`, warm, TLS, {DELAY * 1000:.0f} ms per round trip",
         f"{ms(upload['time'])} ({upload['waits']:.0f} round trips, {upload['commands']:.0f} commands, "
         f"{upload['sessions']} connections)"),
    ])


def render_text(best, breakdown, count):
    cpu_per_photo = [per_photo(result) for result in best]
    photo = median(cpu_per_photo) / RENDER_CPU
    photo_mb = breakdown["photo_bytes"] / 1e6
    uplink = breakdown["photo_bytes"] * count * 8 / UPLINK
    return f"""**What an editor on Render free waits.** The worker spends **{median(cpu_per_photo):.2f} CPU s per
photo** (median of the 4 runs above: {span(cpu_per_photo, lambda v: f"{v:.2f}")} s). At Render's {RENDER_CPU} CPU
that is **~{photo:.0f} s of wall time per photo** once the worker is CPU-bound — it is on one core already (above) — so
**{count} photos ≈ {secs(photo * count)} (~{photo * count / 60:.0f} min) on the server's side, whatever the number in
flight**. Each request then takes ~{photo * 3:.0f} s with 3 in flight (its own photo and its share of the two others;
some far longer, see the decode slot below), ~{photo * 2:.0f} s with 2: {TARGET_REQUEST:.0f} s per request is out of
reach there, a photo alone needs ~{photo:.0f} s. The editor's uplink comes on top, overlapped (the next file travels
while one is processed): {count} × {photo_mb:.1f} MB = {breakdown['photo_bytes'] * count / 1e6:.0f} MB,
{secs(uplink)} at {UPLINK / 1e6:.0f} Mbit/s (a good 4G upload)."""


def suggestions(best, breakdown):
    shipped, halved = breakdown["shipped"], breakdown["halved"]
    pairs = [(find(best, cores, 2), find(best, cores, 3)) for cores in ("1 core", "2 cores")]
    totals = ", ".join(f"{two['run'].label} {ratio(two['total'] / three['total'])}" for two, three in pairs)
    longest = ", ".join(f"{two['run'].label} {secs(max(two['latencies']))} vs {secs(max(three['latencies']))}"
                        for two, three in pairs)
    return f"""**Suggestions (app code not changed).** (1) Serve the decode slot first come, first served
(`FirstComeSlots` above: a ticket each), so that a request waits for at most the {SLOT_THREADS - 1} decodes
ahead of it and none is refused for having lost races. (2) Until then, let the drop zone send 2 at a time, not
3: total time 2 ÷ 3 in flight {totals}; longest request, 2 vs 3 in flight, {longest}. (3) Decode JPEGs with
`draft` at the largest 1/2ⁿ scale whose long side is within a few % of `PHOTO_MAX_SIDE` (2016 px for a 4032 px
phone photo: a long side 1.6 % shorter): {ms(shipped['cpu'])} → {ms(halved['cpu'])} of CPU here,
~{shipped['cpu'] / RENDER_CPU:.0f} s → ~{halved['cpu'] / RENDER_CPU:.0f} s per photo of Render's time.
(4) Let the drop zone shrink photos in the browser before sending (canvas to 2048 px): 4 MB becomes well under
1 MB, which divides the uplink's time several times over and takes the 12 MP decode off Render's CPU (the server
still re-encodes from pixels, so nothing of the file itself survives)."""


def body_text(best, rounds, diagnostics, breakdown, count, database):
    main_rows = [result_row(result, rounds[(result["run"].label, result["run"].in_flight)]) for result in best]
    diagnostic_table = table(("diagnostic run", *HEADERS[1:]), [result_row(result) for result in diagnostics])
    upload = breakdown["upload"]
    return f"""
{count} synthetic phone photos (4032×3024 JPEG with a phone's EXIF, {breakdown['photo_bytes'] / 1e6:.1f} MB each,
`bench/photos.py`) dropped at once on a new article: one multipart request per file (`file`, `slug`) to
`/admin/articles/photo/envoi/`, 3 or 2 in flight (the browser's queue), then the admin's add form posted with the
{count} photos as inline rows (`placements-*`: photo, position, alt text; the first one the cover). Server: gunicorn
started by the Procfile's own command (1 worker × 4 threads, `MALLOC_MMAP_THRESHOLD_`), a fresh one for each run,
on {database}; photos by FTPS (explicit TLS, certificate verified) to `bench/servers.py`'s server at
{DELAY * 1000:.0f} ms per round trip. The client logs in through the admin's login page (CSRF) and keeps its session.
"1 core": the whole gunicorn under `taskset -c {WORKER_CORE}`, this process (the client) and the FTP server pinned to
the other core.

Times: wall, from the first file sent to the article saved. Latency: each upload request, sent to answered. Worker
RSS from `/proc` (idle: after the login and the add page; peak: VmHWM). CPU: the worker's user + system time over
the whole batch, ÷ {count}. Rest of the machine: CPU time none of ours used ÷ wall time (for "1 core", on the
worker's core only). Round trips: those the FTP server saw, ÷ {count}. Check: after the save, in the site's database
and on the FTP server's disk. Each configuration ran {ROUNDS} time(s), alternating; the fastest round is shown. The
editor's uplink is not modelled (loopback): see below.

{table(HEADERS, main_rows)}

{comparisons(best, diagnostics)}

{load_note(best)}

{render_text(best, breakdown, count)}

### Where the time goes

In this process (`bench/gallery_breakdown.py`), one thread, nothing queued, first {PROFILED_PHOTOS} photos, medians:

{breakdown_table(breakdown)}

{pillow_line(breakdown['shipped'], [per_photo(result) for result in best])}
- **FTP is a small part**: {ms(upload['time'])} per photo (its 3 files in parallel, 4 round trips each), overlapped
  with the next photo's decode when 2–3 are in flight.
{floor_line(best, diagnostics, count)}
{slot_text(breakdown['slots'], best, count)}

{diagnostic_table}

{suggestions(best, breakdown)}
"""


def run_all(photos, cert, database):
    """The main runs ROUNDS times, alternating (odd rounds backwards), then the diagnostic ones; the
    fastest round of each main configuration, and every round's total."""
    rounds, best, diagnostics = {}, {}, []
    for number in range(ROUNDS):
        for run in MAIN_RUNS if number % 2 == 0 else MAIN_RUNS[::-1]:
            result = gallery_run(run, photos, cert, database)
            key = (run.label, run.in_flight)
            rounds.setdefault(key, []).append(result["total"])
            if key not in best or result["total"] < best[key]["total"]:
                best[key] = result
            say(f"round {number + 1}: " + " | ".join(str(cell) for cell in result_row(result)))
    for run in DIAGNOSTIC_RUNS if DIAGNOSE else []:
        diagnostics.append(gallery_run(run, photos, cert, database))
        say("diagnostic: " + " | ".join(str(cell) for cell in result_row(diagnostics[-1])))
    return [best[(run.label, run.in_flight)] for run in MAIN_RUNS], rounds, diagnostics


def main():
    started = time.perf_counter()
    photos = [phone_photo(index) for index in range(PHOTOS)]
    cert = certificate()
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    best, rounds, diagnostics = run_all(photos, cert, DATABASE if postgres else None)
    breakdown = where_time_goes(photos, cert)
    say(f"process_photo {ms(breakdown['shipped']['wall'])} (max_side {HALVING_SIDE}: "
        f"{ms(breakdown['halved']['wall'])}); FTP 3 files {ms(breakdown['upload']['time'])}; slot max wait "
        f"{secs(max(breakdown['slots']['shipped']['latencies']))} (first come: "
        f"{secs(max(breakdown['slots']['first come']['latencies']))})")
    fastest, one_core = find(best, "2 cores", 3), find(best, "1 core", 3)
    worst_request = max(max(result["latencies"]) for result in best if result["run"].label == "2 cores")
    worst_peak = max(result["peak"] for result in [*best, *diagnostics])
    render_total = median([per_photo(result) for result in best]) / RENDER_CPU * PHOTOS
    targets = [
        {"target": f"{PHOTOS} phone photos dropped at once (2 cores, 3 in flight, 30 ms per round trip): all on the "
                   f"store and attached ≤ {TARGET_TOTAL:.0f} s",
         "measured": f"{secs(fastest['total'])} (1 core: {secs(one_core['total'])}; Render free ≈ "
                     f"{render_total / 60:.0f} min)",
         "met": fastest["total"] <= TARGET_TOTAL and all(complete(result) for result in [*best, *diagnostics])},
        {"target": f"no single upload request > {TARGET_REQUEST:.0f} s (2 cores, 2 and 3 in flight)",
         "measured": f"max {secs(worst_request)}", "met": worst_request <= TARGET_REQUEST},
        {"target": "gunicorn worker peak ≤ 400 MB during the batch", "measured": mb(worst_peak),
         "met": worst_peak <= TARGET_PEAK},
    ]
    body = body_text(best, rounds, diagnostics, breakdown, PHOTOS,
                     f"PostgreSQL (`{DATABASE}`)" if postgres else "SQLite (a file)")
    write_section("gallery_upload", "9. gallery_upload — 30 phone photos dropped at once", body, targets,
                  time.perf_counter() - started)
    say(f"wrote the gallery_upload section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    setup_django(test_database=f"test_{DATABASE}" if postgres else None)  # this process: the breakdown only
    main()
