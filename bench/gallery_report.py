"""bench.gallery_upload's section of RESULTS.md: its tables, its text and its targets, written from the
results of the gunicorn runs and of bench/gallery_breakdown.py (measuring lives there, not here).

A result (bench.gallery_upload.gallery_run) is a dict: its ``run`` (label, in_flight, one_core), totals,
per-request latencies and states, the worker's RSS and CPU, the FTP server's counts, the gallery check."""

import math

from bench.common import DELAY, median, ms, ratio, secs, table
from bench.gallery_breakdown import PROFILED_PHOTOS, SLOT_THREADS
from bench.memory import mb
from storage.decoding import JPEG_SIDE_TOLERANCE

TARGET_TOTAL, TARGET_REQUEST, TARGET_PEAK = 30.0, 5.0, 400 * 1024 * 1024
BROWSER_IN_FLIGHT = 2  # static/js/admin_gallery_requests.js's IN_FLIGHT (3 before d31af77)
RENDER_CPU = 0.1  # Render free: a tenth of a core
DECODE_WAIT = 60  # settings.PHOTO_DECODE_WAIT_SECONDS: then the editor is told to try again
UPLINK = 10e6  # bits per second: a good 4G upload
HEADERS = ("run", "in flight", "all on the store and attached", "article save", "latency median / p95 / max",
           f"> {TARGET_REQUEST:.0f} s", "worker idle / peak / after", "worker CPU per photo",
           "FTP server CPU per photo", "rest of the machine, cores busy", "FTP round trips per photo", "check")


# --- reading results ----------------------------------------------------------------------------

def nearest_rank(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def per_photo(result, key="cpu"):
    return result[key] / len(result["latencies"])


def find(results, label, in_flight):
    return next((result for result in results if result["run"].label == label and result["run"].in_flight == in_flight),
                None)


def complete(result):
    gallery, count = result["gallery"], len(result["latencies"])
    return (result["saved"] == "saved" and gallery["placements"] == count and gallery["on_store"] == count
            and gallery["files_on_store"] == len(gallery["files"]) and gallery["cover"])


def span(values, format_value=lambda value: f"{value:.1f}"):
    low, high = min(values), max(values)
    return format_value(low) if format_value(low) == format_value(high) else f"{format_value(low)}–{format_value(high)}"


# --- tables -------------------------------------------------------------------------------------

def check_cell(result):
    gallery, states = result["gallery"], result["states"]
    others = sorted({state for state in states if state != "uploaded"})
    text = (f"{states.count('uploaded')}/{len(states)} uploaded{' (' + ', '.join(others) + ')' if others else ''}, "
            f"stored {', '.join(result['stored_sizes'])}; article {result['saved']}: {gallery['placements']} rows, "
            f"{gallery['on_store']} on the store, {gallery['files_on_store']}/{len(gallery['files'])} files, "
            f"{gallery['pending']} pending")
    return text if complete(result) else f"**{text}**"


def result_row(result, rounds=None):
    total = f"**{secs(result['total'])}**" + (f" (rounds: {', '.join(secs(value) for value in rounds)})"
                                              if rounds and len(rounds) > 1 else "")
    in_flight, latencies = result["run"].in_flight, result["latencies"]
    return (result["run"].label, f"**{in_flight}** (the browser's)" if in_flight == BROWSER_IN_FLIGHT else in_flight,
            total, ms(result["save"]),
            f"{secs(median(latencies))} / {secs(nearest_rank(latencies, 0.95))} / {secs(max(latencies))}",
            sum(latency > TARGET_REQUEST for latency in latencies),
            f"{mb(result['idle'])} / **{mb(result['peak'])}** / {mb(result['after'])}",
            f"**{per_photo(result):.2f} s**", f"{per_photo(result, 'server_cpu'):.2f} s", f"{result['others']:.1f}",
            f"{per_photo(result, 'waits'):.1f} ({per_photo(result, 'commands'):.1f} commands, "
            f"{result['sessions']} connections)", check_cell(result))


def comparison(label, numerator, denominator):
    return (label, ratio(numerator["total"] / denominator["total"]),
            ratio(median(numerator["latencies"]) / median(denominator["latencies"])),
            ratio(max(numerator["latencies"]) / max(denominator["latencies"])),
            ratio(per_photo(numerator) / per_photo(denominator)))


def comparisons(best, diagnostics):
    browser = find(best, "2 cores", BROWSER_IN_FLIGHT)
    pairs = [(f"{cores}: 3 in flight ÷ 2", find(best, cores, 3), find(best, cores, 2))
             for cores in ("2 cores", "1 core")]
    pairs += [(f"{count} in flight: 1 core ÷ 2 cores", find(best, "1 core", count), find(best, "2 cores", count))
              for count in (2, 3)]
    pairs.append((f"2 cores, {BROWSER_IN_FLIGHT} in flight: 2 decode slots ÷ 1", diagnostics.get("two slots"), browser))
    return table(("comparison", "total time", "median latency", "max latency", "CPU per photo"),
                 [comparison(*pair) for pair in pairs if pair[1] and pair[2]])


def both(timing):
    return f"{ms(timing['wall'])} wall, {ms(timing['cpu'])} CPU"


def stored(timing):
    original = timing["result"].original
    return f"{original.width}×{original.height}"


def breakdown_table(breakdown):
    old, shipped, upload = breakdown["old"], breakdown["shipped"], breakdown["upload"]
    sizes = ", ".join(f"{size / 1e3:.0f} KB" for size in breakdown["sizes"])
    old_steps, new_steps = dict(old["steps"]), dict(shipped["steps"])
    names = [name for name in dict.fromkeys([*old_steps, *new_steps]) if name != "process_photo"]
    return table(("step", "before: full 12 MP decode, resized", "shipped: libjpeg's 1/2 scale, no resize"), [
        ("`process_photo` (checks, decode, sRGB, encode + 1024w + 480w)", both(old), f"**{both(shipped)}**"),
        ("&nbsp;&nbsp;photo stored", stored(old), stored(shipped)),
        *((f"&nbsp;&nbsp;{name} (cProfile, cumulative, one photo)", old_steps.get(name, "—"), new_steps.get(name, "—"))
          for name in names),
        (f"Django's multipart parser, one {breakdown['photo_bytes'] / 1e6:.1f} MB request body", "same",
         both(breakdown["parse"])),
        (f"FTP: the 3 files ({sizes}), `save_many`, warm, TLS, {DELAY * 1000:.0f} ms per round trip",
         "—", f"{ms(upload['time'])} ({upload['waits']:.0f} round trips, {upload['commands']:.0f} commands, "
             f"{upload['sessions']} connections)"),
    ])


# --- text ---------------------------------------------------------------------------------------

def load_note(best):
    """The shared machine: how busy the rest of it kept the cores our runs had."""
    two, one = [r for r in best if not r["run"].one_core], [r for r in best if r["run"].one_core]
    note = (f"During the 2-core runs the rest of the machine (other sessions' tests on these shared cores, PostgreSQL) "
            f"kept {span([r['others'] for r in two])} of the 2 cores busy; on the 1-core runs' core, "
            f"{span([r['others'] for r in one])}.")
    if median([r["others"] for r in two]) > median([r["others"] for r in one]) + 0.5:
        note += (" So the \"2 cores\" runs had less free CPU than their name says, and \"1 core ÷ 2 cores\" above "
                 "flatters one core: read the 2-core figures as the pessimistic ones.")
    busiest, calmest = max(two, key=lambda r: r["others"]), min(two, key=lambda r: r["others"])
    if busiest["others"] - calmest["others"] > 0.5:
        note += (f" The 2-core runs shown did not have the same free CPU ({busiest['run'].in_flight} in flight: "
                 f"{busiest['others']:.1f} core taken by the rest; {calmest['run'].in_flight} in flight: "
                 f"{calmest['others']:.1f}): compare the numbers in flight on the 1-core runs.")
    return note


def render_text(best, breakdown, count):
    cpu = median([per_photo(result) for result in best])
    before = cpu + breakdown["old"]["cpu"] - breakdown["shipped"]["cpu"]  # the old decode's extra CPU added back
    photo, uplink = cpu / RENDER_CPU, breakdown["photo_bytes"] * count * 8 / UPLINK
    return f"""**What an editor on Render free waits.** The worker spends **{cpu:.2f} CPU s per photo** (median of
the 4 runs above: {span([per_photo(result) for result in best], lambda v: f"{v:.2f}")} s; before the half-size
decode ≈ {before:.2f} s, adding back the {ms(breakdown['old']['cpu'] - breakdown['shipped']['cpu'])} that
`process_photo` saves below). At Render's {RENDER_CPU} CPU that is **~{photo:.0f} s of wall time per photo** (was
~{before / RENDER_CPU:.0f} s) once the worker is CPU-bound, so **{count} photos ≈ {secs(photo * count)}
(~{photo * count / 60:.1f} min, was ~{before * count / RENDER_CPU / 60:.1f} min) on the server's side, whatever the
number in flight**. With the browser's {BROWSER_IN_FLIGHT} in flight each request takes ~{photo * 2:.0f} s (its own
photo and the one ahead of it), ~{photo * 3:.0f} s with 3: {TARGET_REQUEST:.0f} s per request is still out of reach
there, a photo alone needs ~{photo:.0f} s; but a request waits for the slot ~{photo:.0f} s at most, far inside
`PHOTO_DECODE_WAIT_SECONDS`={DECODE_WAIT}. The editor's uplink comes on top, overlapped (the next file travels while
one is processed): {count} × {breakdown['photo_bytes'] / 1e6:.1f} MB = {breakdown['photo_bytes'] * count / 1e6:.0f} MB,
{secs(uplink)} at {UPLINK / 1e6:.0f} Mbit/s (a good 4G upload), against the server's {secs(photo * count)}."""


def pillow_line(breakdown, cpu_per_photo):
    old, shipped, worker = breakdown["old"], breakdown["shipped"], median(cpu_per_photo)
    share = (f"**Pillow is {100 * shipped['cpu'] / worker:.0f} % of the worker's CPU per photo** "
             f"({ms(shipped['cpu'])} of {ms(worker)}, median of the 4 runs); the rest "
             f"(~{ms(max(0.0, worker - shipped['cpu']))}) is the body parsed, TLS to the FTP server, the parked bytes "
             "written to and deleted from the database, Django.")
    return (f"- {share}\n- **The half-size JPEG decode** (4add0ca): `draft` now takes libjpeg's 1/2 scale when it "
            f"lands within {JPEG_SIDE_TOLERANCE:.0%} under `PHOTO_MAX_SIDE` (`JPEG_SIDE_TOLERANCE`), so a phone's "
            f"4032 px photo is decoded straight to {stored(shipped)} and not resized, instead of a full 12 MP decode "
            f"resized to {stored(old)}: `process_photo` {ms(old['cpu'])} → **{ms(shipped['cpu'])}** of CPU "
            f"({ratio(shipped['cpu'] / old['cpu'])}; old path measured in this process with "
            "`JPEG_SIDE_TOLERANCE = 0`, `bench/gallery_breakdown.py`), the stored photo "
            f"{1 - shipped['result'].original.width / old['result'].original.width:.1%} narrower.")


def floor_line(best, diagnostics, count):
    one_core = [r for r in best if r["run"].one_core]
    two_cores = [r for r in best if not r["run"].one_core]
    busy = [r["cpu"] / r["total"] for r in one_core]
    line = (f"- **One decode slot puts the photos' processing in a row**: {count} × the worker's CPU per photo ≈ "
            f"{secs(count * median([per_photo(r) for r in best]))} whatever the number in flight. Measured: 1 core "
            f"{span([r['total'] for r in one_core], secs)} (the worker busy "
            f"{span(busy, lambda v: f'{100 * v:.0f} %')} of the time{': CPU-bound' if min(busy) > 0.8 else ''}), "
            f"2 cores {span([r['total'] for r in two_cores], secs)}.")
    slots, alone = diagnostics.get("two slots"), find(best, "2 cores", BROWSER_IN_FLIGHT)
    if slots and alone:
        line += (f" With `PHOTO_DECODES_AT_ONCE=2` on 2 cores, {BROWSER_IN_FLIGHT} in flight: {secs(slots['total'])} "
                 f"(one slot: {secs(alone['total'])}), longest request {secs(max(slots['latencies']))}, worker peak "
                 f"{mb(slots['peak'])}, the worker using {slots['cpu'] / slots['total']:.1f} cores while the rest of "
                 f"the machine took {slots['others']:.1f}. On Render's fraction of one core a second slot would gain "
                 "nothing.")
    serial = diagnostics.get("serial")
    if serial and alone:
        overlap = (": with 2 in flight one photo's FTP upload and request handling overlap the next one's decode"
                   if serial["total"] > alone["total"] else "")
        line += (f" One request at a time: {secs(median(serial['latencies']))} per request (median), "
                 f"{secs(serial['total'])} in all{overlap}.")
    return line


def slot_text(slots, best):
    racing, shipped = slots["racing"], slots["shipped"]

    def figures(result):
        return (f"median {secs(median(result['latencies']))}, **max {secs(max(result['latencies']))}**, batch "
                f"{secs(result['total'])}")

    gunicorn = "; ".join(f"{result['run'].label}, {result['run'].in_flight} in flight "
                         f"{secs(nearest_rank(result['latencies'], 0.95))} / {secs(max(result['latencies']))}"
                         for result in best)
    raced, worst = max(racing["latencies"]) > 2 * max(shipped["latencies"]), max(racing["latencies"]) / RENDER_CPU
    outcome = ("one request was passed over again and again" if raced else
               "the race happened not to cost much this time (it is a matter of which thread runs first)")
    return f"""- **The decode slot's order of service** (d31af77). `DecodeSlots` used to wake every waiter when the slot
  freed and let the first thread to run take it; an arriving request's own `notify_all` sent the threads already
  waiting behind it in the condition's queue, so the same request could lose again and again. It now hands out
  tickets and serves them in order of arrival. {len(racing['latencies'])} photos, {SLOT_THREADS} at a time (the old
  browser's number, where the race showed), as the upload view treats them (`process_photo` in the slot, then
  `save_many` outside it), this process on one core: the old way (`RacingSlots`, bench/gallery_breakdown.py, the old
  `held` line for line) {figures(racing)}; shipped {figures(shipped)} — {outcome}. On Render's tenth of a core those
  worst requests would take ~{worst:.0f} s vs ~{max(shipped['latencies']) / RENDER_CPU:.0f} s
  ({"past" if worst > DECODE_WAIT else "within"} `PHOTO_DECODE_WAIT_SECONDS`={DECODE_WAIT}, after which a photo is
  refused). With tickets a request waits for at most the decodes ahead of it: {BROWSER_IN_FLIGHT - 1} with the
  browser's {BROWSER_IN_FLIGHT} in flight. Through gunicorn (shipped, the runs above), p95 / max latency: {gunicorn}."""


def still_open(breakdown):
    return f"""**Still open (app code not changed here).** Let the drop zone shrink photos in the browser before
sending (canvas to 2048 px): {breakdown['photo_bytes'] / 1e6:.1f} MB becomes well under 1 MB, which divides the
uplink's time several times over and takes the 12 MP file's decode off Render's CPU (the server still re-encodes from
pixels, so nothing of the file itself survives). {TARGET_REQUEST:.0f} s per request on Render free would need a
request's work (its photo and the one ahead of it) under {TARGET_REQUEST:.0f} × {RENDER_CPU} =
{TARGET_REQUEST * RENDER_CPU:.1f} CPU s."""


def body_text(best, rounds, diagnostics, breakdown, count, database, worker_core):
    main_rows = [result_row(result, rounds[(result["run"].label, result["run"].in_flight)]) for result in best]
    diagnostic_table = table(("diagnostic run", *HEADERS[1:]), [result_row(result) for result in diagnostics.values()])
    upload, rounds_run = breakdown["upload"], len(next(iter(rounds.values())))
    return f"""
{count} synthetic phone photos (4032×3024 JPEG with a phone's EXIF, {breakdown['photo_bytes'] / 1e6:.1f} MB each,
`bench/photos.py`) dropped at once on a new article: one multipart request per file (`file`, `slug`) to
`/admin/articles/photo/envoi/`, {BROWSER_IN_FLIGHT} in flight (what the drop zone sends since d31af77) or 3 (what it
sent before), then the admin's add form posted with the {count} photos as inline rows (`placements-*`: photo,
position, alt text; the first one the cover). The app as shipped: decode slots served in order of arrival, JPEGs
decoded at half size. Server: gunicorn started by the Procfile's own command (1 worker × 4 threads,
`MALLOC_MMAP_THRESHOLD_`), a fresh one for each run, on {database}; photos by FTPS (explicit TLS, certificate
verified) to `bench/servers.py`'s server at {DELAY * 1000:.0f} ms per round trip. The client logs in through the
admin's login page (CSRF) and keeps its session. "1 core": the whole gunicorn under `taskset -c {worker_core}`, this
process (the client) and the FTP server pinned to the other core.

Times: wall, from the first file sent to the article saved. Latency: each upload request, sent to answered. Worker
RSS from `/proc` (idle: after the login and the add page; peak: VmHWM). CPU: the worker's user + system time over
the whole batch, ÷ {count}. Rest of the machine: CPU time none of ours used ÷ wall time (for "1 core", on the
worker's core only). Round trips: those the FTP server saw, ÷ {count}. Check: the photo sizes the upload answers
gave, then after the save, in the site's database and on the FTP server's disk. Each configuration ran
{rounds_run} time(s), alternating; the fastest round is shown. The editor's uplink is not modelled (loopback): see
below.

{table(HEADERS, main_rows)}

{comparisons(best, diagnostics)}

{load_note(best)}

{render_text(best, breakdown, count)}

### Where the time goes

In this process (`bench/gallery_breakdown.py`), one thread, nothing queued, first {PROFILED_PHOTOS} photos, medians;
"before" is the JPEG path as it was (`storage.decoding.JPEG_SIDE_TOLERANCE = 0` for that measure only), timed in
turn with the shipped one on each photo:

{breakdown_table(breakdown)}

{pillow_line(breakdown, [per_photo(result) for result in best])}
- **FTP is a small part**: {ms(upload['time'])} per photo (its 3 files in parallel), overlapped with the next
  photo's decode when 2–3 are in flight.
{floor_line(best, diagnostics, count)}
{slot_text(breakdown['slots'], best)}

{diagnostic_table}

{still_open(breakdown)}
"""


def targets(best, diagnostics, count):
    """The targets comment: measured on the browser's configuration (2 cores, 2 in flight), 3 reported too."""
    browser, three = find(best, "2 cores", BROWSER_IN_FLIGHT), find(best, "2 cores", 3)
    render = median([per_photo(result) for result in best]) / RENDER_CPU * count
    slots = diagnostics.get("two slots")
    return [
        {"target": f"{count} phone photos dropped at once (2 cores, {BROWSER_IN_FLIGHT} in flight as the browser sends "
                   f"them, 30 ms per round trip): all on the store and attached ≤ {TARGET_TOTAL:.0f} s",
         "measured": f"{secs(browser['total'])} (3 in flight: {secs(three['total'])}; 1 core, 2 / 3 in flight: "
                     f"{secs(find(best, '1 core', 2)['total'])} / {secs(find(best, '1 core', 3)['total'])}; "
                     f"Render free ≈ {render / 60:.1f} min)",
         "met": browser["total"] <= TARGET_TOTAL and all(complete(r) for r in [*best, *diagnostics.values()])},
        {"target": f"no single upload request > {TARGET_REQUEST:.0f} s (2 cores, {BROWSER_IN_FLIGHT} in flight)",
         "measured": f"max {secs(max(browser['latencies']))} (3 in flight: max {secs(max(three['latencies']))})",
         "met": max(browser["latencies"]) <= TARGET_REQUEST},
        {"target": "gunicorn worker peak ≤ 400 MB during the batch",
         "measured": f"{mb(browser['peak'])} (3 in flight: {mb(three['peak'])}"
                     + (f"; `PHOTO_DECODES_AT_ONCE=2`: {mb(slots['peak'])})" if slots else ")"),
         "met": max(r["peak"] for r in [*best, *diagnostics.values()]) <= TARGET_PEAK},
    ]
