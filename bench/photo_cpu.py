"""CPU seconds per 12-megapixel phone photo on ONE core (the process pins itself with taskset -c 0,
as Render's 0.1 CPU is one core's slice): what the upload makes before the save answers, against
what it made before issue 10 (the same two JPEG copies, each resized from the whole photo), and what
is made afterwards (the rest of the width ladder, AVIF, WebP), with the peak RSS of the process
doing that, and the bytes per format.

    .venv/bin/python -m bench.photo_cpu          (BENCH_CPU_PHOTOS=5 photos, BENCH_CPU_ROUNDS=3)

Each figure is the median over rounds of time.process_time() around the call, in this process;
peak RSS is measured in a fresh process per photo (spawn): its VmHWM, reset once Pillow is loaded.
"""

import math
import multiprocessing
import os
import shutil
import sys
import time

from bench.common import median, ms, ratio, say, setup_django, table, write_section
from bench.encoder_photos import real_phone_photos
from bench.photos import phone_photo

PHOTOS = int(os.environ.get("BENCH_CPU_PHOTOS", "5"))
ROUNDS = int(os.environ.get("BENCH_CPU_ROUNDS", "3"))
BUDGET = 0.35  # issue 10: CPU seconds of one core per 12 MP photo for everything made at upload
RENDER_CPU = 0.1


def pin_to_one_core():
    """Re-run this module under `taskset -c 0` unless already on one core."""
    if len(os.sched_getaffinity(0)) == 1 or not shutil.which("taskset"):
        return
    os.execvp("taskset", ["taskset", "-c", "0", sys.executable, "-m", "bench.photo_cpu", *sys.argv[1:]])


def cpu_of(function, *args):
    times = []
    for _ in range(ROUNDS):
        started = time.process_time()
        result = function(*args)
        times.append(time.process_time() - started)
    return median(times), result


def upload_now(data):
    from django.conf import settings

    from storage.images import process_photo

    return process_photo(data, "IMG_0001.jpg", max_bytes=settings.PHOTO_MAX_BYTES,
                         max_pixels=settings.PHOTO_MAX_PIXELS, max_side=settings.PHOTO_MAX_SIDE,
                         rendition_widths=settings.PHOTO_WIDTHS_AT_UPLOAD)


def upload_before(data):
    """The same call as the code was before issue 10: each copy resized from the whole photo, no
    placeholder (the two lines that changed, put back for the call)."""
    from storage import images, renditions

    factor, placeholder = renditions.RESIZE_SOURCE_FACTOR, images.placeholder_of
    renditions.RESIZE_SOURCE_FACTOR, images.placeholder_of = math.inf, lambda image: None
    try:
        return upload_now(data)
    finally:
        renditions.RESIZE_SOURCE_FACTOR, images.placeholder_of = factor, placeholder


def later_files(original):
    """What is made after the upload: every file of the ladder the upload did not make."""
    from django.conf import settings

    from storage.images import open_normalised
    from storage.renditions import files_wanted, make_files

    image = open_normalised(original)
    made_at_upload = {("jpg", width) for width in (*settings.PHOTO_WIDTHS_AT_UPLOAD, image.width)}
    wanted = files_wanted(image.width, "jpg", settings.PHOTO_RENDITION_WIDTHS, settings.PHOTO_MODERN_FORMATS)
    return make_files(image, wanted - made_at_upload)


def _peak_of_later(original, queue):
    import django  # the parent's environment came with the spawn: settings only, no database

    django.setup()
    from storage import images, renditions  # noqa: F401 (Pillow and its plugins loaded: the idle state)

    # A spawned child starts as a fork of this process: its high-water mark (ru_maxrss, VmHWM) begins
    # at the parent's size. Linux resets it on request ("5" to clear_refs), so the peak is this work's.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    idle = status_mb("VmRSS")
    later_files(original)
    queue.put((idle, status_mb("VmHWM")))


def status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:")) / 1024


def peak_rss_of_later(original):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_peak_of_later, args=(original, queue))
    process.start()
    idle, peak = queue.get(timeout=300)
    process.join()
    return idle, peak


def main():
    pin_to_one_core()
    started = time.perf_counter()
    setup_django()
    real = real_phone_photos(PHOTOS)
    photos = [(label, data) for label, data in real] or [(f"synthetic {index + 1}", phone_photo(200 + index))
                                                           for index in range(PHOTOS)]
    rows, befores, nows, laters, peaks = [], [], [], [], []
    sizes = {}
    for index, (label, data) in enumerate(photos):
        before, _ = cpu_of(upload_before, data)
        now, processed = cpu_of(upload_now, data)
        later, files = cpu_of(later_files, processed.original.data)
        idle, peak = peak_rss_of_later(processed.original.data)
        befores.append(before), nows.append(now), laters.append(later), peaks.append(peak - idle)
        for (extension, width), rendition in files.items():
            sizes.setdefault((extension, width), []).append(len(rendition.data))
        for width, rendition in processed.renditions.items():
            sizes.setdefault(("jpg", width), []).append(len(rendition.data))
        sizes.setdefault(("jpg", processed.original.width), []).append(len(processed.original.data))
        say(f"photo {index + 1}: upload before {ms(before)}, now {ms(now)}; afterwards {ms(later)} "
            f"({len(files)} files), peak RSS {peak:.0f} MB ({peak - idle:.0f} MB above idle)")
        rows.append([f"{label} ({len(data) / 1e6:.1f} MB)", ms(before), ms(now), ratio(before / now),
                     ms(later), f"{peak:.0f} MB ({peak - idle:+.0f})"])
    before, now, later = median(befores), median(nows), median(laters)
    rows.append(["**median**", f"**{ms(before)}**", f"**{ms(now)}**", f"**{ratio(before / now)}**",
                 f"**{ms(later)}**", f"**{median(peaks):+.0f} MB**"])
    widths = sorted({width for _, width in sizes})
    size_rows = [[extension, *(f"{median(sizes[extension, width]) / 1e3:.0f} KB" if (extension, width) in sizes
                               else "—" for width in widths)] for extension in ("jpg", "webp", "avif")]
    kind = ("real photographs (Debian's wallpaper packages, bench/encoder_photos.py) as a phone sends them, "
            "4032×3024 JPEG q92" if real else "synthetic phone photos (4032×3024 JPEG with EXIF, bench/photos.py)")
    body = f"""{len(photos)} {kind}, on one core (`taskset -c 0`);
CPU = `time.process_time()`, median of {ROUNDS} rounds. "Before": the upload as the code was before issue 10
(480 and 1024 px JPEG copies, each resized from the whole photo); "now": the upload today
(`PHOTO_WIDTHS_AT_UPLOAD`, the 480 px copy resized from the 1024 px one, plus the placeholder);
"afterwards": the rest of the ladder in JPEG and every width in AVIF and WebP (PHOTO_RENDITIONS_LATER).

{table(["photo", "upload, before", "upload, now", "ratio", "afterwards",
        "peak RSS afterwards (above idle)"], rows)}

- **At upload: {ms(now)} per photo** (budget {BUDGET} s): on Render's 0.1 CPU about {now / RENDER_CPU:.1f} s.
- **Afterwards: {ms(later)} per photo** in the background thread at the lowest priority: about
  {later / RENDER_CPU:.0f} s of Render's CPU per photo, {later * 30 / RENDER_CPU / 60:.0f} min for a gallery of 30.

Median bytes per file (JPEG q85 progressive; the encoders' settings: storage/renditions.py):

{table(["format", *(f"{width}w" for width in widths)], size_rows)}
"""
    targets = [{"target": f"≤ {BUDGET} s CPU of one core per 12 MP photo for everything made at upload",
                "measured": f"{now:.3f} s (before issue 10: {before:.3f} s)", "met": now <= BUDGET}]
    write_section("photo_cpu", "11. photo_cpu — CPU per photo at upload and afterwards, one core", body, targets,
                  time.perf_counter() - started)
    say(f"upload: before {ms(before)}, now {ms(now)}; afterwards {ms(later)}")


if __name__ == "__main__":
    main()
