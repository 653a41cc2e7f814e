"""bench.migration's section of RESULTS.md: the runs of both WAN models side by side, the targets judged
on the per-round-trip one."""

import collections
import os
import time

from bench.common import DELAY, ratio, say, secs, table, write_section
from bench.migration import PHOTOS, SERIAL_PHOTOS

PROCESS_STEP = "process_photo (normalise + renditions)"


def per_item(verbs, count):
    counter = collections.Counter(verbs)
    return ", ".join(f"{verb} {number / count:.2g}" for verb, number in counter.most_common())


def for_all(run, measured_on=SERIAL_PHOTOS):
    """A run's time and CPU for PHOTOS photos (the serial runs are measured on fewer: their cost per
    photo is flat, one photo after the other on one connection)."""
    factor = PHOTOS / measured_on
    return {"time": run["time"] * factor, "cpu": run["cpu"] * factor}


def failures_note(runs):
    lines = []
    for label, run in runs:
        if run.get("failures"):
            lines.append(f"- {label}: {len(run['failures'])} failure(s) on the way (tried again, time included): "
                         f"`{run['failures'][0]}`.")
    return "\n".join(lines)


def model_table(runs):
    """Rows of one model: ours --workers 4 (and 1), upload only, lftp, stock."""
    lftp, stock = runs["lftp"], for_all(runs["stock"])
    serial = f" (measured on {SERIAL_PHOTOS}, × {PHOTOS / SERIAL_PHOTOS:g})" if SERIAL_PHOTOS != PHOTOS else ""
    rows = []
    entries = [("ours, migrate_images --workers 4", runs["ours4"], PHOTOS)]
    if "ours1" in runs:
        entries.append((f"ours, migrate_images --workers 1{serial}", runs["ours1"], SERIAL_PHOTOS))
    entries += [(f"ours, upload only: save_many of the {PHOTOS} source files, 4 connections", runs["upload_only"],
                 PHOTOS),
                (f"lftp mirror -R --parallel=4 (the {PHOTOS} source files)", lftp, PHOTOS),
                (f"stock FTPStorage.save loop, ftps:// (the source files){serial}", runs["stock"], SERIAL_PHOTOS)]
    for label, run, measured_on in entries:
        whole = for_all(run, measured_on)
        waits = f"{run['waits'] / measured_on:.1f}" if run.get("waits") is not None else "—"
        rows.append((label, round(run["files"] * PHOTOS / measured_on), secs(whole["time"]),
                     f"{len(run['commands']) / measured_on:.1f}", waits, secs(whole["cpu"]),
                     ratio(whole["time"] / lftp["time"]), ratio(stock["time"] / whole["time"])))
    return table(("run", "files stored", "time", "commands / photo", "round trips / photo (server saw)",
                  "client CPU", "time vs lftp", "stock's time ÷ this"), rows)


def write_report(started, paths, runs):
    main, others = runs["per_round_trip"], {model: run for model, run in runs.items() if model != "per_round_trip"}
    average = sum(path.stat().st_size for path in paths) / len(paths)
    ours4, upload_only, lftp = main["ours4"], main["upload_only"], main["lftp"]
    stock = for_all(main["stock"])
    vs_stock, upload_vs_lftp = stock["time"] / ours4["time"], upload_only["time"] / lftp["time"]
    cores = os.cpu_count() or 1
    delay_ms = DELAY * 1000
    round_trips = ours4["waits"] / PHOTOS
    floor = ours4["waits"] * DELAY / 4  # the round trips alone, 4 connections always busy
    breakdown = ours4["breakdown"]
    steps = sorted(breakdown.seconds.items(), key=lambda item: -item[1])
    breakdown_rows = [(label, breakdown.calls[label], f"{seconds / breakdown.calls[label] * 1000:.0f} ms",
                       secs(seconds)) for label, seconds in steps]
    process_ms = breakdown.seconds[PROCESS_STEP] / max(1, breakdown.calls[PROCESS_STEP]) * 1000
    per_reply_text = ""
    for model, other in others.items():
        other_stock = for_all(other["stock"])
        per_reply_text += f"""
### The same runs at {delay_ms:.0f} ms per reply ({model}: every command pays, pipelined or not)

{model_table(other)}

- ours --workers 4: {ratio(other_stock["time"] / other["ours4"]["time"])} the stock loop; upload only:
  {ratio(other["upload_only"]["time"] / other["lftp"]["time"])} lftp's time
  ({len(other["upload_only"]["commands"]) / PHOTOS:.1f} commands per file against
  {len(other["lftp"]["commands"]) / PHOTOS:.1f}: here only fewer commands help, not fewer round trips).
"""
    notes = failures_note([(f"{label} ({model})", run) for model, model_runs in runs.items()
                           for label, run in model_runs.items()])
    body = f"""
{PHOTOS} photos (1600×1200 JPEG, {average / 1e3:.0f} KB on average; one synthetic base + different shapes each,
cached in bench/.work/migration/legacy/), {PHOTOS} articles naming them `legacy/IMG_NNNN.jpg` (published over 3
years: {ours4["folders"]} month folders), a TLS server with {delay_ms:.0f} ms once per round trip (commands sent
together share one; bench/servers.py), a fresh server (empty folder) for every run. ours = `migrate_images()` from
articles/photo_migration.py (what `manage.py migrate_images_to_hostgator --workers N` runs): the old folder listed
once (one `MLSD`), then per photo `process_photo` (normalise, 480w + 1024w, in {cores} photo processes) and
`save_many` of the 3 files, then the database row. lftp and the stock loop upload the {PHOTOS} source files as they
are: no processing, 1 file per photo. "Upload only" = ours' transport alone on those same files (`save_many`, 4
connections): the same bytes as lftp's. The serial runs are measured on {SERIAL_PHOTOS} photos and scaled (their
cost per photo is flat). Client CPU = this process's and its photo processes' CPU time (the server runs apart), or
lftp's.

{model_table(main)}

- **Target ≥ 5× the stock loop: {"met" if vs_stock >= 5 else "missed"}, {ratio(vs_stock)}** (ours --workers 4
  {secs(ours4["time"])} for {ours4["files"]} files, stock {secs(stock["time"])} for {PHOTOS}).
- **Target upload-only ≤ 1.1× lftp: {"met" if upload_vs_lftp <= 1.1 else "missed"}, {ratio(upload_vs_lftp)}**
  ({upload_only["waits"] / PHOTOS:.1f} round trips per file against lftp's {lftp["waits"] / PHOTOS:.1f}).
{notes}

What the server received, per photo (upload only, lftp, stock: 1 file per photo):
- ours --workers 4: {per_item(ours4["commands"], PHOTOS)}
- ours upload only: {per_item(upload_only["commands"], PHOTOS)}
- lftp: {per_item(lftp["commands"], PHOTOS)}
- stock: {per_item(main["stock"]["commands"], SERIAL_PHOTOS)}

Per file, lftp's `mirror -R` waits for `PASV`, `STOR`, `MFMT`, `SITE CHMOD`, one after the other, and writes
straight to the final name (an interruption leaves a half file at a public name; no size is checked). Ours waits
for `PASV` + `STOR` (sent together: storage/ftp/session.py), `MLST` of the hidden temporary name (size and mode
checked before the name goes public), `RNFR` + `RNTO` (sent together): 3 round trips.

### Where ours' time goes (--workers 4)

Wall time inside each step, summed over the threads (perf_counter wrappers; nothing else changes):

{table(("step", "calls", "per call", "total, all threads"), breakdown_rows)}

- {round_trips:.1f} round trips per photo × {delay_ms:.0f} ms ÷ 4 connections = **{floor:.0f} s at the very
  least**; measured {secs(ours4["time"])}: the connections were busy {100 * floor / ours4["time"]:.0f} % of the time.
- `process_photo` takes ~{process_ms:.0f} ms per photo (wall, in a photo process), while the next photos upload:
  {secs(ours4["cpu"])} of client CPU in {secs(ours4["time"])} on {cores} cores.
{per_reply_text}"""
    targets = [
        {"target": f"migration: ≥ 5× the stock FTPStorage.save loop ({PHOTOS} photos, {delay_ms:.0f} ms per round "
                   "trip)",
         "measured": f"{ratio(vs_stock)} (ours --workers 4 {secs(ours4['time'])} for {ours4['files']} files + "
                     f"processing; stock {secs(stock['time'])} for {PHOTOS} files)",
         "met": vs_stock >= 5},
        {"target": "migration, upload only: ≤ 1.1× lftp mirror -R --parallel=4 on the same files",
         "measured": f"{ratio(upload_vs_lftp)} (ours {secs(upload_only['time'])}, lftp {secs(lftp['time'])})",
         "met": upload_vs_lftp <= 1.1},
    ]
    write_section("migration", f"4. migration — {PHOTOS} photos to HostGator", body, targets,
                  time.perf_counter() - started)
    say(f"ours vs stock {ratio(vs_stock)}, upload-only vs lftp {ratio(upload_vs_lftp)}; "
        f"wrote the migration section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")
