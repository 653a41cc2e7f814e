"""How much memory photo work may take in one process: per-format pixel caps, a bound on the photos
decoded at once, and giving the memory back afterwards. Standard library only (no Django, no Pillow).

Why: Render's free instance has 512 MB for everything. Decoding is the one step whose memory
grows with the photo (bench/memory.py measures it per format); the caps keep one photo within
about 200 MB above an idle worker, and the slots keep N editors uploading at once from adding
up N of those peaks: the others wait for their turn, a bounded time, then get a clear refusal.
"""

import collections
import ctypes
import ctypes.util
import itertools
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field


class NoDecodeSlot(Exception):
    """Every decode slot stayed busy for the whole wait."""


class DecodeSlots:
    """At most ``count`` photos decoded at once in this process; the threads of a gunicorn worker
    (and the migration's workers) share one instance. A condition rather than a semaphore: the
    number waiting can be read (and waited for, as the tests do) without guessing at timings.

    Served in order of arrival (a ticket each). A bare "wait until one is free" lets whichever
    waiting thread runs first take a freed slot, so one editor's photo can lose that race again
    and again: with a gallery's 3 requests in flight on one core, one request waited 23.7 s while
    the others took 2-3 s (bench/gallery_upload.py), far past PHOTO_DECODE_WAIT_SECONDS on
    Render's 0.1 CPU."""

    def __init__(self, count):
        if count < 1:
            raise ValueError(f"decode slots: {count!r}, at least 1")
        self.count, self.busy = count, 0
        self._queue = collections.deque()  # tickets of the threads waiting, oldest first
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    @property
    def waiting(self):
        return len(self._queue)

    @contextmanager
    def held(self, wait_seconds):
        """Hold a slot for the block; ``wait_seconds`` None waits as long as it takes (batch work)."""
        with self._changed:
            ticket = next(self._tickets)
            self._queue.append(ticket)
            self._changed.notify_all()
            try:
                free = self._changed.wait_for(lambda: self.busy < self.count and self._queue[0] == ticket,
                                              timeout=wait_seconds)
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may take a slot still free
            if not free:
                raise NoDecodeSlot(f"no decode slot free within {wait_seconds} s ({self.busy} busy)")
            self.busy += 1
        try:
            yield
        finally:
            with self._changed:
                self.busy -= 1
                self._changed.notify_all()
            give_memory_back()

    def wait_until(self, predicate, timeout=None):
        """Block until ``predicate(self)`` holds (e.g. ``lambda slots: slots.waiting == 2``)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout=timeout)


@dataclass(frozen=True)
class PhotoBudget:
    """``caps``: {Pillow format: max pixels} where a format costs more per pixel than the others
    (formats not named have only the caller's max_pixels). ``wait_seconds``: how long a photo waits
    for a slot (None: no limit)."""

    caps: dict = field(default_factory=dict)
    slots: DecodeSlots = field(default_factory=lambda: DecodeSlots(1))
    wait_seconds: float | None = 60.0

    def cap_for(self, image_format):
        return self.caps.get("JPEG" if image_format == "MPO" else image_format, math.inf)


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim  # glibc only; musl and macOS have none
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_trim = _malloc_trim()


def give_memory_back():
    """Hand freed memory back to the system after a photo. ``malloc_trim(0)`` returns the free pages
    of glibc's heaps, but not the top of the other threads' heaps, where big blocks land once
    glibc's dynamic mmap threshold has grown past Pillow's 16 MB blocks; so the Procfile also fixes
    that threshold (MALLOC_MMAP_THRESHOLD_), and big blocks are unmapped as soon as they are freed.
    Cheaper than recycling the worker (gunicorn --max-requests), which pays Django's start again on
    0.1 CPU and keeps the memory until the Nth request. Figures: bench/memory.py, "kept after four"."""
    if _trim is not None:
        _trim(0)
