"""Where an uploaded gallery photo's time goes, measured in this process on bench.gallery_upload's
photos (Django set up, no gunicorn): process_photo and its steps, shipped and as it was before the
half-size JPEG decode; Django's multipart parser on one request body; the 3 files' FTP upload; and
the decode slot's order of service when 3 requests share it, shipped and as it was.

Two prototypes of the old behaviour, here only, for the comparison:
- ``RacingSlots``: DecodeSlots before it handed out tickets (a bare "wait until one is free": every
  waiter woken when the slot frees, the first thread to run takes it, so one may lose again and again).
- ``full_size_jpeg_decode()``: storage.decoding with JPEG_SIDE_TOLERANCE 0, libjpeg's draft asked for
  PHOTO_MAX_SIDE exactly: a 4032 px photo decoded at full size, then resized to 2048 px."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date

from bench.common import DELAY, median, our_storage, stopwatch, temporary_dir
from bench.servers import ServerProcess
from storage.photo_budget import DecodeSlots, NoDecodeSlot, PhotoBudget, give_memory_back

PROFILED_PHOTOS = 10  # each timed the old way and the shipped way, in turn
SLOT_THREADS = 3  # the drop zone's requests in flight before it went down to 2: where the race showed


class RacingSlots(DecodeSlots):
    """DecodeSlots.held as it was before d31af77, line for line: a freed slot goes to whichever waiting
    (or arriving) thread runs first. An arrival's notify_all wakes the waiters, and each one that goes
    back to waiting goes to the back of the condition's queue, behind the newcomer: the next wake-up
    comes to the newcomer first."""

    @contextmanager
    def held(self, wait_seconds):
        with self._changed:
            ticket = next(self._tickets)
            self._queue.append(ticket)  # only so that ``waiting`` counts it: no thread looks at the order
            self._changed.notify_all()
            try:
                free = self._changed.wait_for(lambda: self.busy < self.count, timeout=wait_seconds)
            finally:
                self._queue.remove(ticket)
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


@contextmanager
def full_size_jpeg_decode():
    """The JPEG path before the half-size decode, in this process only, for the block."""
    from storage import decoding

    shipped = decoding.JPEG_SIDE_TOLERANCE
    decoding.JPEG_SIDE_TOLERANCE = 0
    try:
        yield
    finally:
        decoding.JPEG_SIDE_TOLERANCE = shipped


def process_with(data, budget=None):
    """process_photo with the site's limits (as articles/photo_processing.py calls it), on its own slot."""
    from django.conf import settings

    from storage.images import process_photo

    return process_photo(data, "IMG_0001.jpg", max_bytes=settings.PHOTO_MAX_BYTES,
                         max_pixels=settings.PHOTO_MAX_PIXELS, max_side=settings.PHOTO_MAX_SIDE,
                         rendition_widths=settings.PHOTO_WIDTHS_AT_UPLOAD, budget=budget or PhotoBudget())


def timed(photos, *functions):
    """Median wall and CPU seconds of each ``function(data)`` over ``photos``, and its last result; the
    functions take turns on each photo, so that a shared machine's changing load falls on all alike."""
    figures = [{"wall": [], "cpu": [], "result": None} for _ in functions]
    for data in photos:
        for function, figure in zip(functions, figures, strict=True):
            cpu_before = time.process_time()
            with stopwatch() as elapsed:
                figure["result"] = function(data)
            figure["wall"].append(elapsed())
            figure["cpu"].append(time.process_time() - cpu_before)
    return [{**figure, "wall": median(figure["wall"]), "cpu": median(figure["cpu"])} for figure in figures]


def process_the_old_way(data):
    with full_size_jpeg_decode():
        return process_with(data)


def multipart_parse(data):
    """Django's MultiPartParser on one upload request's body (the file kept in memory: < 5 MB)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import RequestFactory

    request = RequestFactory().post("/admin/articles/photo/envoi/",
                                    {"slug": "tournoi", "file": SimpleUploadedFile("IMG_0001.jpg", data)})
    return request.FILES["file"].size


def photo_files_of(processed):
    from articles.photos import photo_files
    from storage.images import photo_name

    name = photo_name("tournoi-des-jeunes", processed.content_hash, processed.extension, date(2026, 12, 1))
    return name, photo_files(name, processed.original.data, processed.renditions)


def slot_service(photos, slots, server):
    """Each photo as the upload view treats it (process_photo, waiting for ``slots``; then its 3 files
    sent, outside the slot), SLOT_THREADS at a time, on one core (this process pinned to core 0, the
    FTP server elsewhere). Per-request seconds, and the batch's."""
    storage = our_storage(server.settings, max_connections=3)
    budget = PhotoBudget(slots=slots, wait_seconds=None)

    def request(data):
        with stopwatch() as elapsed:
            name, files = photo_files_of(process_with(data, budget=budget))
            storage.save_many(files)
        return elapsed()

    everywhere = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    os.sched_setaffinity(server.pid, everywhere - {0} or everywhere)
    try:
        with stopwatch() as batch, ThreadPoolExecutor(SLOT_THREADS) as queue:
            latencies = list(queue.map(request, photos))
    finally:
        os.sched_setaffinity(0, everywhere)
        storage.disconnect()
    return {"latencies": latencies, "total": batch()}


def where_time_goes(photos, cert):
    """process_photo timed and profiled the old way and the shipped way, the multipart parser, the FTP
    upload of one photo's files, and the slot's service (racing, then the shipped tickets)."""
    from bench.photo_save import measure, parallel_upload, profile_processing

    sample = photos[:PROFILED_PHOTOS]
    process_with(sample[0])  # warm-up: imports, Pillow's plugins
    old, shipped = timed(sample, process_the_old_way, process_with)
    with full_size_jpeg_decode():
        old["steps"] = profile_processing(sample[0])
    shipped["steps"] = profile_processing(sample[0])
    [parse] = timed(sample, multipart_parse)
    name, files = photo_files_of(shipped["result"])
    with ServerProcess(temporary_dir("gallery-breakdown"), cert, DELAY, "per_round_trip") as server:
        (server.root / name).parent.mkdir(parents=True, exist_ok=True)
        upload = measure(server, files, parallel_upload, warm=True)
        slots = {"racing": slot_service(photos, RacingSlots(1), server),
                 "shipped": slot_service(photos, DecodeSlots(1), server)}
    return {"old": old, "shipped": shipped, "parse": parse, "upload": upload, "slots": slots,
            "sizes": [len(blob) for blob in files.values()], "photo_bytes": median([len(data) for data in photos])}
