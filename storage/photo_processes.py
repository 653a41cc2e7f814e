"""The CPU side of the bulk commands (migrate_images_to_hostgator, regenerate_renditions) in a pool
of processes, while their threads keep the network side: decoding and encoding of one photo run
beside the uploads of the others, on every core the machine really has. Pillow only; no Django,
no network.

Why processes and not the commands' threads: Pillow holds the GIL in parts of decoding, resizing
and encoding, so threads use about one core (bench/migration.py: CPU-bound at 3.4x the stock loop
on 2 cores). Each process works on one photo at a time, so memory stays that of one photo per
process (storage/photo_budget.py's caps apply there too). Processes are started by "spawn": never
a fork of a process that has threads and database connections.

Where only one CPU is really there (Render: 0.1 CPU, whatever os.cpu_count() says), processes_for()
says 0 and the caller does the work in its own threads, as the web process does.
"""

import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from storage.images import open_normalised, process_photo
from storage.photo_budget import DecodeSlots, PhotoBudget, give_memory_back
from storage.renditions import make_files

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def available_cpus():
    """CPUs this process may really use: its affinity, capped by the container's CPU quota (which
    os.cpu_count() and the affinity ignore: on Render's free plan both say 8 for 0.1 CPU)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass
    return cpus


def processes_for(workers):
    """How many processes for ``workers`` photos at once: one per whole CPU, at most one per worker;
    0 (the calling thread does the work) when that is one or fewer."""
    count = min(workers, math.floor(available_cpus()))
    return count if count > 1 else 0


# The functions the processes run: top level, so that they can be sent to a process.
_slots = None
PARENT_POLL_SECONDS = 1.0


def _die_with_parent(parent_pid):
    """A worker never outlives its command. Killed (SIGKILL, the OOM killer), the command cannot
    stop its workers, and they would wait on their queue forever: each holds that queue's other
    end itself, so it never closes. A thread watches the parent instead: once it is gone (this
    process is handed to another), the worker ends. Not PR_SET_PDEATHSIG: it fires when the
    *thread* that started the worker ends, and the pool starts workers from short-lived threads."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _budget(caps):
    global _slots
    if _slots is None:
        _slots = DecodeSlots(1)
    return PhotoBudget(caps=caps, slots=_slots, wait_seconds=None)


def _process(data, filename, limits):
    try:
        return process_photo(data, filename, budget=_budget(limits.pop("caps", {})), **limits)
    finally:
        give_memory_back()


def _make_files(original, wanted):
    try:
        return make_files(open_normalised(original), wanted)
    finally:
        give_memory_back()


class PhotoProcesses:
    """``process(data, filename, **limits)`` (process_photo's arguments, ``caps`` for the budget's
    per-format caps) and ``make_files(original, wanted)``, each run in one of ``processes``
    processes; the calling thread waits for its result (and gets its ImageRejected)."""

    def __init__(self, processes):
        if processes < 1:
            raise ValueError(f"photo processes: {processes!r}, at least 1")
        self.processes = processes
        self._executor = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_die_with_parent, initargs=(os.getpid(),))

    def process(self, data, filename, **limits):
        return self._executor.submit(_process, data, filename, dict(limits)).result()

    def make_files(self, original, wanted):
        return self._executor.submit(_make_files, original, wanted).result()

    def close(self):
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
