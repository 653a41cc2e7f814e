"""Memory per photo, end to end: a real gunicorn worker, started by the Procfile's own command,
receives admin uploads (login, CSRF, multipart POST, photo processed, sent by FTPS to the embedded
server, article saved). The worker's RSS is read from /proc: VmRSS idle (after a page), VmHWM (its
peak) after the upload(s), and VmRSS once they are done. One upload, then four at once (four
editors, the worker's four threads), each in a freshly started gunicorn.

    .venv/bin/python -m bench.memory_gunicorn      (BENCH_MEMORY_GUNICORN_CASES as bench.memory's)
"""

import os
import secrets
import threading
import time

from bench.common import say, table, write_section
from bench.memory import ISSUE_CASES, ISSUE_FIGURES, mb
from bench.photos import big_photo
from bench.servers import Site, proc_status

CASES = ("JPEG 40 MP", "PNG + alpha 40 MP", "GIF 36 MP", "HEIC 24 MP (iPhone 15 Pro)")


def measure(site, label, path, copies):
    with site.gunicorn() as worker:
        return measure_worker(site, worker, label, path, copies)


def measure_worker(site, worker, label, path, copies):
    editors = [site.editor() for _ in range(copies)]
    editors[0].get("/")
    idle = proc_status(worker, "VmRSS")
    data = [path.read_bytes() for _ in range(copies)]
    outcomes = []
    threads = [threading.Thread(target=lambda e=editor, d=blob, i=index: outcomes.append(
        e.add_article(f"{label} {i} {secrets.token_hex(3)}", photo=(path.name, d))))
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
