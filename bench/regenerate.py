"""`manage.py regenerate_renditions` on a store of photos that have only the first site's files (the
original and its 480/1024 px JPEG copies), at 30 ms per reply over TLS: the bulk pipeline (photo work
in a pool of processes, uploads in the threads) against the same command with the photo work in
its threads (one decode at a time per process, as before the pool), then a second run (nothing left).

    .venv/bin/python -m bench.regenerate       BENCH_REGEN_PHOTOS=500, BENCH_REGEN_SERIAL=50 (threads-only
                                               run on that many, scaled: its cost per photo is flat)

Set-up (not measured): 1600×1200 JPEGs (bench/photos.py small_photos) written into the server's folder
as normalised originals, one Photo row each with Photo.files = {"jpg": [480, 1024, 1600]}.
"""

import os
import resource
import time

from bench.common import (
    DELAY,
    certificate,
    ratio,
    say,
    secs,
    setup_django,
    stopwatch,
    table,
    temporary_dir,
    write_section,
)
from bench.photos import small_photos
from bench.servers import ServerProcess

PHOTOS = int(os.environ.get("BENCH_REGEN_PHOTOS", "500"))
SERIAL = min(PHOTOS, int(os.environ.get("BENCH_REGEN_SERIAL", "50")) or PHOTOS)
WORKERS = 4


def make_store(server, paths):
    from articles.models import Photo
    from storage.images import content_hash

    Photo.objects.all().delete()
    rows = []
    for index, path in enumerate(paths):
        data = path.read_bytes()
        name = f"2026/11/match-{index:04d}-{content_hash(data)}.jpg"
        (server.root / name).parent.mkdir(parents=True, exist_ok=True)
        (server.root / name).write_bytes(data)
        rows.append(Photo(name=name, width=1600, height=1200, content_hash=content_hash(data),
                          files={"jpg": [480, 1024, 1600]}))
    Photo.objects.bulk_create(rows)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cert, paths, processes, label):
    from django.test import override_settings

    from articles.photo_regeneration import regenerate_renditions

    server = ServerProcess(temporary_dir(f"regenerate-{label}"), cert, DELAY)
    server.settings = {**server.settings, "TIMEOUT": 15.0, "MAX_CONNECTIONS": WORKERS}
    try:
        make_store(server, paths)
        with override_settings(HOSTGATOR_FTP=server.settings):
            cpu, children = time.process_time(), children_cpu()
            with stopwatch() as elapsed:
                report = regenerate_renditions(workers=WORKERS, processes=processes)
            cpu, children = time.process_time() - cpu, children_cpu() - children
            stors = server.verbs().count("STOR")
            server.forget()
            with stopwatch() as again_elapsed:
                again = regenerate_renditions(workers=WORKERS, processes=processes)
            again_stors = server.verbs().count("STOR")
    finally:
        server.stop()
    done = len(report.of("done"))
    say(f"{label}: {done}/{len(paths)} photos, {report.files} files ({report.bytes / 1e6:.0f} MB) in "
        f"{secs(elapsed())}, CPU {secs(cpu)} here + {secs(children)} in processes; second run "
        f"{secs(again_elapsed())}, {again_stors} STOR")
    if done != len(paths) or not again.ok:
        raise RuntimeError(f"{label}: {done} of {len(paths)} done; {[o.detail for o in report.of('failed')][:3]}")
    return {"time": elapsed(), "cpu": cpu + children, "files": report.files, "bytes": report.bytes, "stors": stors,
            "again": again_elapsed(), "again_stors": again_stors, "photos": len(paths),
            "peak_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main():
    started = time.perf_counter()
    setup_django()
    from storage.photo_processes import processes_for

    paths = small_photos(PHOTOS)
    cert = certificate()
    processes = processes_for(WORKERS)
    pool = run(cert, paths, None, f"pool of {processes} processes")
    threads = run(cert, paths[:SERIAL], 0, "threads only")
    scale = PHOTOS / SERIAL
    threads_time = threads["time"] * scale
    rows = [
        [f"bulk pipeline: {WORKERS} threads, {processes} processes", pool["photos"], pool["files"],
         f"{pool['bytes'] / 1e6:.0f} MB", secs(pool["time"]), secs(pool["cpu"]),
         f"{pool['time'] / PHOTOS:.2f} s", ratio(threads_time / pool["time"])],
        [f"{WORKERS} threads, photo work in them" + (f" (on {SERIAL}, × {scale:g})" if scale != 1 else ""),
         threads["photos"], threads["files"], f"{threads['bytes'] / 1e6:.0f} MB", secs(threads_time),
         secs(threads["cpu"] * scale), f"{threads_time / PHOTOS:.2f} s", "1×"],
    ]
    body = f"""{PHOTOS} photos (1600×1200 JPEG, bench/photos.py small_photos) with only the first site's files, over TLS
at {DELAY * 1000:.0f} ms per reply, `regenerate_renditions --workers {WORKERS}`: each photo's original downloaded
once, its {pool['files'] // PHOTOS} new files (the ladder's other JPEG widths, every width in AVIF and WebP) made
and uploaded, its row updated. CPU = this process + its worker processes.

{table(["run", "photos", "files made", "bytes", "time", "CPU", "per photo", "speed-up"], rows)}

- Second run on the completed store: {secs(pool['again'])}, **{pool['again_stors']} files uploaded** (idempotent).
- Worker processes' peak RSS: {pool['peak_children']:.0f} MB each at most.
- On Render (0.1 CPU, no process pool there: `processes_for` reads the cgroup quota) the CPU alone would take
  about {pool['cpu'] / PHOTOS / 0.1:.0f} s per photo; run it from a laptop with the production variables (README).
"""
    targets = [{"target": "regenerate_renditions on 500 photos: a second run uploads nothing",
                "measured": f"{pool['again_stors']} STOR on the second run", "met": pool["again_stors"] == 0}]
    write_section("regenerate", "12. regenerate_renditions — 500 photos, bulk pipeline vs threads", body, targets,
                  time.perf_counter() - started)


if __name__ == "__main__":
    main()
