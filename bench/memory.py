"""Memory per photo (issue 8): what one admin upload costs a worker, per format at its cap.

Every figure comes from a fresh child process (``python -m bench.memory --child ...``) that sets
Django up as a worker does, reads the file(s) into memory as the request bodies are, and then runs
``articles.photo_processing.process_upload`` (the admin form's call), one photo, or four at once in four
threads (a gunicorn gthread worker serving four editors). It reports:

- peak above idle: the process's peak RSS (VmHWM, reset just before the work by writing 5 to
  /proc/self/clear_refs) minus its RSS then (the idle worker with the uploads already in memory),
  i.e. what the photo work itself claimed at its worst. Not ``ru_maxrss``: Linux carries that
  over from the parent across fork and exec, so a child of a big process would show its parent's peak;
- CPU seconds: the process's user + system time for the work, per photo;
- RSS after: what the process still holds once the work is done, four ways: glibc's defaults (no
  trim), ``malloc_trim(0)`` after each photo only (``storage.photo_budget.give_memory_back``), that
  trim with one malloc arena (``MALLOC_ARENA_MAX=1``), and as shipped: the trim with a fixed mmap
  threshold (``MALLOC_MMAP_THRESHOLD_``, as the Procfile sets it).

Runs are pinned to one core (``taskset -c 0``) when taskset exists: Render's free instance has
about 0.1 CPU, so its wall time is about ten times the CPU seconds shown here.

    .venv/bin/python -m bench.memory          (BENCH_MEMORY_CASES="JPEG,HEIC 24 MP" for some rows only)
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time

from bench.common import PROJECT, say, table, write_section
from bench.photos import big_photo

MEGABYTE = 1024 * 1024
# (label, kind, size): the issue's measured files first, then each format at its own cap when lower.
ISSUE_CASES = [
    ("JPEG 40 MP", "JPEG", (7744, 5163)),
    ("PNG 40 MP", "PNG", (7744, 5163)),
    ("PNG + alpha 40 MP", "PNG + alpha", (7744, 5163)),
    ("1-bit PNG 39 MP (4.8 KB)", "1-bit PNG", (7650, 5100)),
    ("WebP 40 MP", "WebP", (7744, 5163)),
    ("GIF 36 MP", "GIF", (7350, 4900)),
    ("HEIC 12 MP", "HEIC", (4032, 3024)),
    ("HEIC 24 MP (iPhone 15 Pro)", "HEIC", (5712, 4284)),
    ("HEIC 48 MP", "HEIC", (8064, 6048)),
]
FORMAT_OF_KIND = {"JPEG": "JPEG", "PNG": "PNG", "PNG + alpha": "PNG", "1-bit PNG": "PNG", "WebP": "WEBP", "GIF": "GIF",
                  "HEIC": "HEIF"}
# How the child process gives memory back: as the Procfile runs the site, trim only, glibc's defaults.
MEMORY_SETTINGS = {"shipped": ({"MALLOC_MMAP_THRESHOLD_": "1048576"}, True),
                   "one arena": ({"MALLOC_ARENA_MAX": "1"}, True), "trim only": ({}, True),
                   "glibc defaults": ({}, False)}
KEPT_ORDER = ("glibc defaults", "trim only", "one arena", "shipped")
# The same measurement (this module's child, same files, one core) on commit f5aa25f, before issue 8:
# label: (peak one, peak four at once, CPU s per photo), MB.
BEFORE = {"JPEG 40 MP": (70, 277, 0.58), "PNG 40 MP": (204, 813, 1.68), "PNG + alpha 40 MP": (510, 2034, 19.4),
          "1-bit PNG 39 MP (4.8 KB)": (237, 949, 1.04), "WebP 40 MP": (620, 2471, 1.91), "GIF 36 MP": (223, 887, 1.01),
          "HEIC 12 MP": (99, 348, 1.05), "HEIC 24 MP (iPhone 15 Pro)": (187, 682, 1.77),
          "HEIC 48 MP": (9, 9, 0.03)}  # refused then too (PHOTO_MAX_PIXELS)
# Peak RSS above an idle worker, as the issue measured it on a gunicorn worker (MB), before this work.
ISSUE_FIGURES = {"JPEG 40 MP": 132 - 54, "PNG + alpha 40 MP": 563 - 54, "1-bit PNG 39 MP (4.8 KB)": 298 - 54,
                 "WebP 40 MP": 671 - 54, "GIF 36 MP": 294 - 54, "HEIC 24 MP (iPhone 15 Pro)": 243 - 54}


def rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    return proc_status_bytes("VmHWM")


def proc_status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # Linux 4.0+: VmHWM starts again from the current RSS


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(path, copies, trim):
    """Runs in the child: process ``copies`` uploads of ``path`` at once; prints one JSON line."""
    from bench.common import setup_django

    setup_django()
    from articles.photo_processing import process_upload
    from storage import photo_budget
    from storage.images import ImageRejected

    if not trim:
        photo_budget.give_memory_back = lambda: None
    name = os.path.basename(path)
    uploads = [open(path, "rb").read() for _ in range(copies)]  # each request has its own body
    process_upload(open(PROJECT / "storage" / "default_images" / "default_article.jpg", "rb").read(), "warm.jpg")
    photo_budget.give_memory_back()  # the idle worker starts trimmed either way
    reset_peak_rss()
    idle, cpu_before, started = rss_bytes(), cpu_seconds(), time.perf_counter()
    outcomes = []
    barrier = threading.Barrier(copies)

    def one(data):
        barrier.wait()
        try:
            photo = process_upload(data, name)
            outcomes.append(f"{photo.original.width}×{photo.original.height} {photo.extension}")
        except ImageRejected as refused:
            outcomes.append(f"refused ({refused.code})")

    threads = [threading.Thread(target=one, args=(data,)) for data in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu, wall = cpu_seconds() - cpu_before, time.perf_counter() - started
    peak = peak_rss_bytes()
    print(json.dumps({"idle": idle, "peak": peak - idle, "after": rss_bytes() - idle, "cpu": cpu / copies,
                      "wall": wall, "outcomes": outcomes}))


def run_child(path, copies=1, memory="shipped"):
    environment, trim = MEMORY_SETTINGS[memory]
    command = [sys.executable, "-m", "bench.memory", "--child", str(path), str(copies), "trim" if trim else "no-trim"]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False,
                          env={**os.environ, **environment})
    if done.returncode:
        raise RuntimeError(f"{command}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def boot_cost():
    """CPU seconds and RSS of a worker's start (Django set up, the WSGI application imported):
    what every recycle (gunicorn --max-requests) costs, paid again on 0.1 CPU."""
    code = ("import resource, os; from bench.memory import cpu_seconds, rss_bytes; import cmtch.wsgi; "
            "print(cpu_seconds(), rss_bytes())")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    cpu, rss = done.stdout.split()
    return float(cpu), int(rss)


def cases():
    from articles.photo_processing import photo_budget

    budget = photo_budget()
    rows = list(ISSUE_CASES)
    for label, kind, size in ISSUE_CASES:
        cap = budget.cap_for(FORMAT_OF_KIND[kind])
        if size[0] * size[1] > cap and kind != "1-bit PNG":  # the 1-bit file is the issue's bomb-like case
            scale = (cap / (size[0] * size[1])) ** 0.5
            capped = (int(size[0] * scale), int(size[1] * scale))
            megapixels = f"{capped[0] * capped[1] / 1e6:.1f}".replace(".", ",").removesuffix(",0")
            rows.append((f"{kind} at its cap, {megapixels} MP", kind, capped))
    wanted = os.environ.get("BENCH_MEMORY_CASES")
    return [row for row in rows if not wanted or any(part.strip() in row[0] for part in wanted.split(","))]


def mb(value):
    return f"{value / MEGABYTE:.0f} MB"


def main():
    started = time.perf_counter()
    rows, worst, worst_four = [], 0, 0
    cpu_of = {memory: 0.0 for memory in MEMORY_SETTINGS}  # CPU s of all four-at-once runs, per way of freeing
    for label, kind, size in cases():
        path = big_photo(kind, size)
        one = run_child(path)
        four = {memory: run_child(path, copies=4, memory=memory) for memory in MEMORY_SETTINGS}
        if not one["outcomes"][0].startswith("refused"):
            worst = max(worst, one["peak"])
        worst_four = max(worst_four, four["shipped"]["peak"])
        for memory, result in four.items():
            cpu_of[memory] += result["cpu"] * 4
        issue, before = ISSUE_FIGURES.get(label), BEFORE.get(label)
        rows.append((label, f"{size[0]} × {size[1]}", f"{os.path.getsize(path) / 1e6:.1f} MB",
                     f"{issue} MB" if issue else "—", f"{before[0]} MB" if before else "—", f"**{mb(one['peak'])}**",
                     one["outcomes"][0], f"{before[2]:.2f} s" if before else "—", f"{one['cpu']:.2f} s",
                     f"{before[1]} MB" if before else "—", f"**{mb(four['shipped']['peak'])}**",
                     ", ".join(sorted(set(four["shipped"]["outcomes"]))),
                     " / ".join(mb(four[memory]["after"]) for memory in KEPT_ORDER),
                     " / ".join(mb(four[memory]["peak"]) for memory in KEPT_ORDER)))
        say(" | ".join(str(cell) for cell in rows[-1]))
    boot_cpu, boot_rss = boot_cost()
    body = f"""
Each row: a fresh child process, set up as a worker (Django, the app) with the upload(s) already read into
memory, runs `process_upload` (the admin form's call), pinned to one core. **Peak** = the peak RSS (VmHWM,
reset just before the work) minus the RSS then (idle: about {mb(one["idle"])} here, uploads included). **Four
at once** = four threads in one process, four copies of the file, started together (a gunicorn gthread worker
with four editors): they take turns (`PHOTO_DECODES_AT_ONCE=1`). **CPU** = user + system seconds per photo
(Render's free instance has about 0.1 CPU: its wall time is about ten times that). **Before** = the same
measurement on commit f5aa25f (before issue 8), same files; **issue** = the issue's figure on a gunicorn worker
(its peak minus the 54 MB idle). **Kept after four** = RSS still held, above idle, once four photos in four
threads are done, and **peak of four** the same runs' peak: glibc's defaults / `malloc_trim(0)` after each
photo / trim + `MALLOC_ARENA_MAX=1` / as shipped, trim + `MALLOC_MMAP_THRESHOLD_=1048576` (the Procfile's).

{table(("photo", "pixels", "file", "issue: peak", "before: peak", "peak above idle", "outcome", "before: CPU",
        "CPU", "before: four at once", "four at once: peak", "four: outcomes",
        "kept after four: defaults / trim / one arena / shipped",
        "peak of four: defaults / trim / one arena / shipped"), rows)}

Worst accepted photo: **{mb(worst)}** above idle; worst peak with four at once: **{mb(worst_four)}** above idle.
CPU of all the four-at-once runs: {" / ".join(f"{memory} {cpu:.1f} s" for memory, cpu in cpu_of.items())}.
A worker's start (`import cmtch.wsgi`): {boot_cpu:.2f} CPU s and {mb(boot_rss)} RSS.

### Reading the figures

- **Where the memory went before**: WebP through Pillow is about 16 bytes a pixel (libwebp's animation decoder,
  which Pillow uses for every WebP, holds two full-size RGBA canvases from `Image.open()` on, then a bytes copy,
  then Pillow's image); PNG with alpha 12 (the RGBA image, a copy by `convert("RGBA")`, a premultiplied copy inside
  `resize()`); 1-bit PNG and GIF were converted to RGB at full size (4 bytes a pixel from 1/8 or 1); HEIC was
  libheif's RGB buffer plus Pillow's copy of it.
- **Now** (`storage/decoding.py`): JPEG as before (libjpeg's scaled decoding); palette, 1-bit and grey images stay
  1 byte a pixel, and everything is converted and reduced a band of rows at a time, so RGB(A) exists at full size
  only where the decoder makes it. The floor left is Pillow's decoded image: PNG RGB(A) at 40 MP is 155 MB there,
  because Pillow cannot decode a PNG in parts. WebP has no cheap path in Pillow: its cap is 12 MP. HEIC keeps only
  libheif's own buffer.
- **Four at once** costs what one costs: photos are decoded one at a time per process (`PHOTO_DECODES_AT_ONCE=1`);
  the others wait their turn, up to `PHOTO_DECODE_WAIT_SECONDS`, then are refused with « réessayez ».
- **Giving the memory back** ("kept after four"): with glibc's defaults a worker keeps up to its peak for good,
  and each thread's photo lands in that thread's own heap, so four in turn cost more than one ("peak of four").
  `malloc_trim(0)` after each photo returns the main heap's free pages but not the top of the per-thread heaps,
  where Pillow's 16 MB blocks land once glibc's dynamic mmap threshold has grown past them (glibc trims only the
  main heap's top): tens of MB stay. One arena (`MALLOC_ARENA_MAX=1`) puts every thread's blocks in the main
  heap, which the trim empties, at the defaults' CPU, but libheif's and Pillow's big blocks then fragment that
  one heap: peaks rise (HEIC at its cap above 200 MB). A fixed mmap threshold (`MALLOC_MMAP_THRESHOLD_=1048576`:
  every block of 1 MB or more mapped on its own, and unmapped when freed) gives the lowest peaks and keeps the
  least, for about 10 % more CPU (fresh zeroed pages for every block; totals above) — what the Procfile sets,
  memory being the scarcer of the two on Render's free instance. `gunicorn --max-requests`
  would return everything only when the worker is recycled at its Nth request — the big photo's memory stays until
  then — and each recycle pays a worker's start again ({boot_cpu:.1f} CPU s here, about {boot_cpu * 10:.0f} s on
  Render's 0.1 CPU): not used.
"""
    targets = [{"target": "≤ 200 MB above an idle worker for any accepted photo", "measured": mb(worst),
                "met": worst <= 200 * MEGABYTE},
               {"target": "four uploads at once: peak above idle no higher than one's (≤ 200 MB)",
                "measured": mb(worst_four), "met": worst_four <= 200 * MEGABYTE}]
    write_section("memory", "5. memory — peak RSS per photo, per format at its cap", body, targets,
                  time.perf_counter() - started)
    say(f"wrote the memory section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "trim")
    else:
        from bench.common import setup_django

        setup_django()
        main()
