"""``transfer_photos`` (articles/photo_transfer.py) HostGator → S3 at scale: the FTP bench server to moto's S3
server, at the same simulated WAN, with 1, 4 and 8 workers, then a second run at 8 workers that finds
nothing to copy.

    .venv/bin/python -m bench.s3_transfer
      BENCH_S3_TRANSFER_PHOTOS=300   photos (3 files each) on the FTP source
      BENCH_S3_TRANSFER_WORKERS=1,4,8

Each store runs in its own spawned child process, and each transfer in a fresh spawned child too (Django
set up on its own throwaway database, the photos' rows made, then ``transfer_photos`` as the management
command calls it: both stores with ``max_connections`` = workers), which reports its wall time, its CPU
time and its peak RSS during the transfer (VmHWM, reset just before it through /proc/self/clear_refs; not
``ru_maxrss``, which a spawned child inherits from its parent and which never goes down). The WAN:
BENCH_DELAY (30 ms) once per round trip on both sides, as in bench/s3_saves.py. Every transfer starts with
a fresh, empty bucket, except the second run, which goes over the complete one the 8-worker run left.
"""

import logging
import multiprocessing
import os
import resource
import sys
import time
import traceback
from collections import Counter

from bench.common import DELAY, certificate, our_storage, ratio, say, secs, table, temporary_dir, write_section
from bench.s3_saves import S3Process, photo_files
from bench.servers import ServerProcess, cpu_seconds, proc_status

PHOTOS = int(os.environ.get("BENCH_S3_TRANSFER_PHOTOS", "300"))
WORKERS = tuple(int(value) for value in os.environ.get("BENCH_S3_TRANSFER_WORKERS", "1,4,8").split(","))
MB = 1e6
MIB = 1024 * 1024
RENDER_RAM_MIB = 512


def _peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def _reset_peak_rss():
    """Bring this process's high-water mark (VmHWM) down to its RSS now (Linux ≥ 4.0), so that it measures the
    transfer alone, not setting up the test database; False where refused. Not ``ru_maxrss``: in a spawned
    child it starts at the parent's high-water mark (Linux carries it over fork and exec) and cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class PoolFull(logging.Filter):
    """Counts (and keeps out of the output) urllib3's "Connection pool is full, discarding connection"."""

    discarded = 0

    def filter(self, record):
        if record.getMessage().startswith("Connection pool is full"):
            self.discarded += 1
            return False
        return True


def _transfer(ftp_settings, s3_settings, rows, workers):
    from bench.common import setup_django

    # The parent holds the default test database when DATABASE_URL is PostgreSQL's: this child takes another.
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    setup_django(test_database="test_cmtch_bench_s3_transfer" if on_postgres else None)
    from django.test import override_settings

    from articles.models import Photo
    from articles.photo_transfer import transfer_photos
    from storage.s3 import PhotoS3Storage

    Photo.objects.bulk_create([Photo(**row) for row in rows])
    pool_full = PoolFull()
    logging.getLogger("urllib3.connectionpool").addFilter(pool_full)
    with override_settings(PHOTO_S3=s3_settings):
        source = our_storage(ftp_settings, timeout=15.0, max_connections=workers)
        destination = PhotoS3Storage(max_connections=workers)
        peak_setup, reset = proc_status(os.getpid(), "VmHWM"), _reset_peak_rss()
        rss_before = proc_status(os.getpid(), "VmRSS")
        cpu, started = time.process_time(), time.perf_counter()
        report = transfer_photos(source, destination, workers=workers)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak, peak_life = proc_status(os.getpid(), "VmHWM"), _peak_rss()
        source.disconnect()
        destination.disconnect()
    return {"seconds": seconds, "cpu": cpu, "rss_before": rss_before, "peak_setup": peak_setup, "reset": reset,
            "peak": peak, "peak_life": peak_life, "discarded": pool_full.discarded,
            "files": report.files, "bytes": report.bytes, "ok": report.ok,
            "statuses": dict(Counter(outcome.status for outcome in report.outcomes)),
            "details": sorted({outcome.detail for outcome in report.outcomes if outcome.detail})[:5]}


def _child(channel, *arguments):
    try:
        channel.send(_transfer(*arguments))
    except BaseException:
        channel.send({"error": traceback.format_exc()})
    channel.close()


def run_transfer(ftp, s3, rows, workers, label):
    """One transfer_photos in a fresh child process, with what both servers saw of it."""
    ftp.forget()
    s3.forget()
    servers_cpu = cpu_seconds(ftp.pid) + cpu_seconds(s3.pid)
    context = multiprocessing.get_context("spawn")
    channel, child_end = context.Pipe()
    process = context.Process(target=_child, args=(child_end, ftp.settings, s3.settings, rows, workers),
                              name=f"bench-transfer-{workers}")
    process.start()
    child_end.close()
    result = channel.recv()
    process.join(30)
    if "error" in result:
        raise RuntimeError(f"the transfer ({label}) failed in its child process:\n{result['error']}")
    requests = s3.requests()
    methods = Counter("LIST" if method == "GET" and not key else method for method, key in requests)
    result.update(label=label, workers=workers, requests=len(requests), methods=dict(methods), ftp_waits=ftp.waits(),
                  ftp_verbs=dict(Counter(ftp.verbs())),
                  servers_cpu=cpu_seconds(ftp.pid) + cpu_seconds(s3.pid) - servers_cpu)
    result["objects"], result["object_bytes"] = s3.objects()
    mib = {key: f"{result[key] / MIB:.1f} MiB" for key in ("rss_before", "peak_setup", "peak_life", "peak")}
    say(f"{label}: {result['files']} files in {secs(result['seconds'])}, {result['requests']} requests "
        f"{result['methods']}, FTP round trips {result['ftp_waits']}, RSS before {mib['rss_before']} (setup's peak "
        f"{mib['peak_setup']}, ru_maxrss {mib['peak_life']}), peak RSS {mib['peak']}, {result['discarded']} "
        f"connections discarded, statuses {result['statuses']}")
    return result


def photo_rows(photos):
    from articles.photos import files_record

    return [{"name": name, "width": processed.original.width, "height": processed.original.height,
             "content_hash": processed.content_hash,
             "files": files_record(name, processed.original.width, processed.renditions)}
            for name, processed, _files in photos]


def _per_file(value, files):
    return f"{value / files:.2f}" if value is not None and files else "—"


def _rss(run):
    return f"{run['peak'] / MIB:.0f} MiB (+{max(0, run['peak'] - run['rss_before']) / MIB:.0f})"


def main():
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    photos = photo_files(PHOTOS)
    file_count = sum(len(files) for _name, _processed, files in photos)
    total_bytes = sum(len(data) for _name, _processed, files in photos for data in files.values())
    rows = photo_rows(photos)
    say(f"{PHOTOS} photos, {file_count} files, {total_bytes / MB:.1f} MB ready")
    ftp = ServerProcess(temporary_dir("s3-transfer-ftp"), certificate(), DELAY, "per_round_trip")
    s3 = S3Process(DELAY)
    try:
        saver = our_storage(ftp.settings, timeout=15.0, max_connections=4)
        for _name, _processed, files in photos:
            saver.save_many(files)
        saver.disconnect()  # the host takes 8 sessions per IP address: the 8-worker run needs them all
        del photos
        runs = []
        for workers in WORKERS:
            s3.new_bucket()
            runs.append(run_transfer(ftp, s3, rows, workers, f"{workers} worker{'s' if workers > 1 else ''}"))
        again = run_transfer(ftp, s3, rows, WORKERS[-1], f"{WORKERS[-1]} workers, again")
    finally:
        ftp.stop()
        s3.stop()
    base = runs[0]["seconds"]
    table_rows = [(run["label"], secs(run["seconds"]), f"{run['files'] / run['seconds']:.0f}",
                   f"{run['bytes'] / MB / run['seconds']:.2f}", ratio(base / run["seconds"]),
                   _per_file(run["requests"], run["files"]), _per_file(run["ftp_waits"], run["files"]),
                   secs(run["cpu"]), secs(run["servers_cpu"]), _rss(run)) for run in runs]
    table_rows.append((again["label"] + " (nothing to copy)", secs(again["seconds"]), "—", "—",
                       "—", f"{again['requests']} in all", f"{again['ftp_waits']} in all",
                       secs(again["cpu"]), secs(again["servers_cpu"]), _rss(again)))
    complete = all(run["objects"] == file_count and run["object_bytes"] == total_bytes and run["ok"]
                   for run in [*runs, again])
    odd = [f"{run['label']}: {run['statuses']}, {run['details']}" for run in [*runs, again]
           if set(run["statuses"]) - {"copied", "already there", "missing"} or not run["ok"]]
    methods = ", ".join(f"{count} {method}" for method, count in sorted(again["methods"].items()))
    ftp_again = ", ".join(f"{count} {verb}" for verb, count in sorted(again["ftp_verbs"].items()))
    no_put = ": listings only, no PUT" if set(again["methods"]) == {"LIST"} else ": **not listings only**"
    setup_peak = max(run["peak_setup"] for run in [*runs, again]) / MIB
    inherited = max(run["peak_life"] for run in [*runs, again]) / MIB
    reset_note = (f"`VmHWM`, brought down to the RSS of the moment through /proc/self/clear_refs just before; setting "
                  f"up Django and its test database had peaked at {setup_peak:.0f} MiB. Not `ru_maxrss`: in a spawned "
                  f"child it starts at the parent's high-water mark (Linux carries it over fork and exec), and said "
                  f"{inherited:.0f} MiB here, this bench process's with its {PHOTOS} photos in memory"
                  if all(run["reset"] for run in [*runs, again]) else
                  "`VmHWM`, **not reset before the transfer here** (/proc/self/clear_refs refused): it includes "
                  f"setting up Django and its test database, {setup_peak:.0f} MiB")
    highest, last = max(run["peak"] for run in [*runs, again]), runs[-1]
    per_worker = (last["peak"] - runs[0]["peak"]) / MIB / max(1, last["workers"] - runs[0]["workers"])
    cpu_share = (last["cpu"] + last["servers_cpu"]) / last["seconds"] / os.cpu_count() * 100
    busy = ": the machine, not only the WAN, is then part of the limit" if cpu_share > 50 else ""
    superlinear = [run["label"] for run in runs[1:] if base / run["seconds"] > run["workers"] / runs[0]["workers"]]
    on_render = last["cpu"] / 0.1
    bound = ("there, the transfer is bound by the CPU, not by the WAN" if on_render > last["seconds"] else
             "still within this run's wall time")
    body = f"""
`transfer_photos` from HostGator (the FTP bench server, FTP over TLS) to S3 (moto's server), both at
{DELAY * 1000:.0f} ms per round trip (FTP: the per-round-trip model, bench/servers.py; S3: before each HTTP request
is answered), each server in its own process. The source holds {PHOTOS} photos, {file_count} files,
{total_bytes / MB:.1f} MB (real 1600×1200 JPEGs processed once, original + 1024w + 480w, saved there with
`save_many`), all in one month's folder; the default images are not on it (each reported missing). Each
transfer runs in a fresh process of its own, as `manage.py transfer_photos --workers N` does (both stores opened
with N connections), into a fresh, empty bucket; all runs in one go, side by side. {os.cpu_count()} cores, shared
by the transfer and both servers (and whatever else ran: load average {load_at_start[0]:.1f} at the start, at
the end above).

{table(("run", "wall", "files/s", "MB/s", "speed-up vs 1 worker", "requests to the bucket per file",
        "FTP round trips per file", "CPU (transfer process)", "CPU (both servers)", "peak RSS (growth in the run)"),
       table_rows)}

- CPU: user + system seconds of the process doing the transfer, all its threads, during the transfer; the
  servers' is the FTP and S3 processes' together. At {last["workers"]} workers the three processes used
  {cpu_share:.0f} % of the {os.cpu_count()} cores{busy}.
- {f"More than N× at N workers ({', '.join(superlinear)})" if superlinear else "Speed-ups"}: with 1 worker each
  store has one connection, so a photo's three PUTs go one after the other (with 4 and more, `save_many` sends
  them together).
- Peak RSS: the transfer process's high-water mark during the transfer ({reset_note}). Python, Django and boto3
  included; in brackets, how far above its RSS just before the transfer (Django set up, the rows made:
  {runs[0]["rss_before"] / MIB:.0f} MiB) it went. About {per_worker:.1f} MiB more per worker.
- urllib3's "Connection pool is full, discarding connection" (a connection closed after its request instead of
  kept alive): {", ".join(f"{run['discarded']} at {run['label']}" for run in runs)}. PhotoS3Storage's client
  keeps max(10, 2 × N) connections, as many as its threads run requests at once (it kept max(10, N) before
  this run's commit, and discarded 123 at 8 workers).
- {"Every run left all" if complete else "**Not every run left all**"} {file_count} objects
  ({total_bytes / MB:.1f} MB) in the bucket, its report ok.{"" if not odd else " Odd: " + "; ".join(odd) + "."}
- The second run at {WORKERS[-1]} workers, over the complete bucket: {again['files']} files copied, in
  {secs(again["seconds"])}; {again['requests']} request(s) to the bucket ({methods}{no_put}),
  {again["ftp_waits"]} round trips on the FTP side (commands: {ftp_again}).
- Render's free plan: 512 MB of RAM and about 0.1 CPU. The highest peak RSS here, {highest / MIB:.0f} MiB, is
  {highest / MIB / RENDER_RAM_MIB * 100:.0f} % of 512 MiB, for the command's process alone (a gunicorn worker
  beside it has its own). At 0.1 CPU the {secs(last["cpu"])} of CPU of the {last["workers"]}-worker run alone
  would take about {secs(on_render)}: {bound}.
"""
    write_section("s3_transfer", f"15. s3_transfer — transfer_photos HostGator → S3, {file_count} files, "
                  f"{WORKERS[0]} to {WORKERS[-1]} workers", body, [], time.perf_counter() - started)
    say(*(f"{run['label']}: {secs(run['seconds'])}" for run in [*runs, again]))


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    sys.exit(main())
