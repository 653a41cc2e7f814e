"""Which AVIF and WebP settings give a photo the same look as today's JPEG q85, at what size and CPU.

Photos: 8 real photographs from Debian's wallpaper packages (bench/encoder_photos.py, fetched at run
time) as 2016x1512 masters, plus bench/photos.py's synthetic ones as a second data set. Metric:
SSIMULACRA2 (bench/encoder_metric.py) of each encode against the uncompressed resized pixels.

1. Matching (both cores, one photo and width per process): at 800, 1024 and 2016 px, JPEG q85's
   score (Pillow, optimize + progressive, as storage/images.py) is the target; for AVIF at speeds
   6-9 and WebP at methods 4 and 6, the quality giving that score is searched (integer qualities
   bracketing it, then interpolated linearly; bytes log-linearly).
2. Fixed settings: each setting at the median of its matched qualities (one quality for every
   photo and width, as the site will use), scored again: the look it really gives.
3. CPU (one core, the process pinned to core 0 as ``taskset -c 0``): process CPU seconds per
   encode at every ladder width, median of BENCH_ENCODER_REPEATS encodes, then median over photos.
   AVIF with max_threads=1: one core's work, no thread-pool overhead counted.

Knobs: BENCH_ENCODER_PHOTOS (real photos, 8), BENCH_ENCODER_SYNTHETIC (2), BENCH_ENCODER_REPEATS (3),
BENCH_ENCODER_JOBS (processes for steps 1-2, 2). About 25 minutes on 2 cores with the defaults."""

import io
import math
import multiprocessing
import os
import time

from PIL import Image

from bench.common import median, say, write_section
from bench.encoder_metric import Reference, ensure_installed, self_check
from bench.encoder_photos import at_width, real_photos, synthetic_photos
from bench.encoder_report import report

JPEG = ("JPEG", 85)  # (codec, effort) for JPEG is (name, quality): today's setting
SETTINGS = (("AVIF", 6), ("AVIF", 7), ("AVIF", 8), ("AVIF", 9), ("WebP", 4), ("WebP", 6))
MATCH_WIDTHS = (2016, 1024, 800)
LADDER = (320, 400, 480, 640, 800, 1024, 1280, 1600, 2016)
FIRST_GUESS = {"AVIF": 60, "WebP": 85}
STEP = 8  # quality step while bracketing the target


def encode(image, codec, effort, quality=None):
    buffer = io.BytesIO()
    if codec == "JPEG":
        image.save(buffer, "JPEG", quality=effort, optimize=True, progressive=True)
    elif codec == "AVIF":
        image.save(buffer, "AVIF", quality=quality, speed=effort, max_threads=1)  # 4:2:0, as JPEG's default
    else:
        image.save(buffer, "WEBP", quality=quality, method=effort)
    return buffer.getvalue()


def decoded(data):
    return Image.open(io.BytesIO(data)).convert("RGB")


def matching_quality(reference, image, codec, effort, target):
    """{"q", "bytes", "encodes"}: the quality (fractional) whose score is ``target``; q is None
    if even quality 100 stays below it."""
    seen = {}

    def score(quality):
        data = encode(image, codec, effort, quality)
        seen[quality] = (reference.score(decoded(data)), len(data))
        return seen[quality][0]

    below = above = None  # (quality, score) just under / at or over the target
    quality = FIRST_GUESS[codec]
    while True:
        value = score(quality)
        if value >= target:
            above = (quality, value) if above is None or quality < above[0] else above
        else:
            below = (quality, value) if below is None or quality > below[0] else below
        if above and below and above[0] - below[0] <= 2:
            break
        if above is None:
            if quality == 100:
                return {"q": None, "bytes": seen[100][1], "encodes": len(seen)}
            quality = min(100, quality + STEP)
        elif below is None:
            if quality == 1:
                return {"q": 1.0, "bytes": seen[1][1], "encodes": len(seen)}
            quality = max(1, quality - STEP)
        else:  # secant inside the bracket, always strictly inside so that it shrinks
            (low, low_score), (high, high_score) = below, above
            guess = low + (target - low_score) * (high - low) / (high_score - low_score)
            quality = min(high - 1, max(low + 1, round(guess)))
    (low, low_score), (high, high_score) = below, above
    share = (target - low_score) / (high_score - low_score)
    low_bytes, high_bytes = seen[low][1], seen[high][1]
    return {"q": low + share * (high - low), "encodes": len(seen),
            "bytes": math.exp(math.log(low_bytes) + share * (math.log(high_bytes) - math.log(low_bytes)))}


def match_job(job):
    """One photo at one width: JPEG q85's score and bytes, and each setting's matching quality."""
    dataset, label, width, master = job
    image = at_width(master, width)
    reference = Reference(image)
    jpeg = encode(image, *JPEG)
    target = reference.score(decoded(jpeg))
    result = {"dataset": dataset, "label": label, "width": width, "jpeg_score": target, "jpeg_bytes": len(jpeg)}
    for codec, effort in SETTINGS:
        result[(codec, effort)] = matching_quality(reference, image, codec, effort, target)
    return result


def fixed_job(job):
    """One photo at one width: the score and bytes each setting gives at its chosen quality."""
    dataset, label, width, master, chosen = job
    image = at_width(master, width)
    reference = Reference(image)
    result = {"dataset": dataset, "label": label, "width": width}
    for setting, quality in chosen.items():
        data = encode(image, *setting, quality)
        result[setting] = {"score": reference.score(decoded(data)), "bytes": len(data)}
    return result


def run_jobs(function, jobs, processes):
    if processes <= 1:
        return [function(job) for job in jobs]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return list(pool.imap_unordered(function, jobs))


def chosen_qualities(matches):
    """Each setting's quality for every photo: the median of what the real photos matched at."""
    chosen = {}
    for setting in SETTINGS:
        found = [match[setting]["q"] if match[setting]["q"] is not None else 100 for match in matches]
        chosen[setting] = round(median(found))
    return chosen


def cpu_seconds(image, codec, effort, quality, repeats):
    """Median process CPU seconds of ``repeats`` encodes, and the encoded size."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        data = encode(image, codec, effort, quality)
        times.append(time.process_time() - started)
    return median(times), len(data)


def cpu_per_width(photos, chosen, repeats):
    """{setting: {width: (median CPU s, median bytes ratio to JPEG)}} over ``photos``, on core 0 only."""
    os.sched_setaffinity(0, {0})
    cells = {}
    for label, _, master in photos:
        say(f"  CPU: {label}")
        for width in LADDER:
            image = at_width(master, width)
            jpeg_cpu, jpeg_bytes = cpu_seconds(image, *JPEG, None, repeats)
            cells.setdefault((JPEG, width), []).append((jpeg_cpu, 1.0))
            for setting, quality in chosen.items():
                cpu, size = cpu_seconds(image, *setting, quality, repeats)
                cells.setdefault((setting, width), []).append((cpu, size / jpeg_bytes))
    table = {}
    for (setting, width), values in cells.items():
        table.setdefault(setting, {})[width] = (median([v[0] for v in values]), median([v[1] for v in values]))
    return table


def main():
    started = time.perf_counter()
    processes = int(os.environ.get("BENCH_ENCODER_JOBS", "2"))
    repeats = int(os.environ.get("BENCH_ENCODER_REPEATS", "3"))
    ensure_installed()
    real = real_photos(int(os.environ.get("BENCH_ENCODER_PHOTOS", "8")) or None)
    synthetic = synthetic_photos(int(os.environ.get("BENCH_ENCODER_SYNTHETIC", "2")))
    if real:
        ours, theirs = self_check(at_width(real[0][2], 400))
        say(f"metric self-check (400 px, JPEG q50): cached {ours:.4f}, ssimulacra2 package {theirs:.4f}")
    primary = real or synthetic
    datasets = [("real" if real else "synthetic", primary)] + ([("synthetic", synthetic)] if real and synthetic else [])
    jobs = [(name, label, width, master) for width in MATCH_WIDTHS for name, photos in datasets
            for label, _, master in photos]
    say(f"1. matching JPEG q85's SSIMULACRA2: {len(jobs)} photo-widths on {processes} processes")
    matches = run_jobs(match_job, jobs, processes)
    chosen = chosen_qualities([match for match in matches if match["dataset"] == datasets[0][0]])
    say("   chosen qualities: " + ", ".join(f"{codec} {effort}: q{q}" for (codec, effort), q in chosen.items()))
    say("2. scoring the chosen qualities")
    fixed = run_jobs(fixed_job, [(*job, chosen) for job in jobs], processes)
    say(f"3. CPU per encode, one core, {repeats} encodes each, ladder {LADDER}")
    cpu = cpu_per_width(primary, chosen, repeats)
    body, targets = report(datasets, matches, fixed, chosen, cpu, SETTINGS, JPEG, MATCH_WIDTHS, LADDER)
    say(body)
    write_section("encoders", "10. encoders — AVIF and WebP settings with JPEG q85's look", body, targets,
                  time.perf_counter() - started)


if __name__ == "__main__":
    main()
