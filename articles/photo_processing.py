"""An upload checked and normalised with the site's limits (settings.PHOTO_*), one decode at a time
per process: storage.images does the Pillow work, storage.photo_budget counts the turns."""

import threading
from dataclasses import replace

from django.conf import settings

from storage.images import open_normalised, process_photo
from storage.photo_budget import DecodeSlots, PhotoBudget
from storage.photo_processes import PhotoProcesses, processes_for
from storage.renditions import make_files

_decode_slots = {}
_decode_slots_lock = threading.Lock()


def decode_slots(count):
    """One per process (and count): every request thread and migration worker waits on the same.
    Under a lock: two requests arriving together at a fresh worker must not get one each."""
    with _decode_slots_lock:
        if count not in _decode_slots:
            _decode_slots[count] = DecodeSlots(count)
        return _decode_slots[count]


def photo_budget():
    return PhotoBudget(caps=dict(settings.PHOTO_MAX_PIXELS_BY_FORMAT),
                       slots=decode_slots(settings.PHOTO_DECODES_AT_ONCE),
                       wait_seconds=settings.PHOTO_DECODE_WAIT_SECONDS)


def process_upload(data, filename, wait_as_long_as_it_takes=False):
    """storage.images.process_photo with the site's limits. An editor's request waits a bounded time
    for its turn to be decoded; a batch (the migration) passes ``wait_as_long_as_it_takes``."""
    budget = photo_budget()
    if wait_as_long_as_it_takes:
        budget = replace(budget, wait_seconds=None)
    return process_photo(data, filename=filename, max_bytes=settings.PHOTO_MAX_BYTES,
                         max_pixels=settings.PHOTO_MAX_PIXELS, max_side=settings.PHOTO_MAX_SIDE,
                         rendition_widths=settings.PHOTO_WIDTHS_AT_UPLOAD, budget=budget)


def upload_limits():
    """process_photo's limits from the site's settings, as plain values (sent to worker processes)."""
    return {"max_bytes": settings.PHOTO_MAX_BYTES, "max_pixels": settings.PHOTO_MAX_PIXELS,
            "max_side": settings.PHOTO_MAX_SIDE, "rendition_widths": settings.PHOTO_WIDTHS_AT_UPLOAD,
            "caps": dict(settings.PHOTO_MAX_PIXELS_BY_FORMAT)}


class BulkPhotoWork:
    """The photo work of a bulk command (migration, regeneration) for ``workers`` threads: in a pool
    of processes when the machine has the CPUs (storage/photo_processes.py), else in the threads
    themselves, one decode at a time like the web process. ``processes``: None for the default."""

    def __init__(self, workers, processes=None):
        self.processes = processes_for(workers) if processes is None else processes
        self._pool = PhotoProcesses(self.processes) if self.processes else None

    def process(self, data, filename):
        if self._pool is None:
            return process_upload(data, filename, wait_as_long_as_it_takes=True)
        return self._pool.process(data, filename, **upload_limits())

    def make_files(self, original, wanted):
        if self._pool is None:
            slots = photo_budget().slots
            with slots.held(None):
                image = open_normalised(original)
            # One width at a time: an editor's upload waiting for the slot passes between two of them.
            return make_files(image, wanted, step=lambda: slots.held(None))
        return self._pool.make_files(original, wanted)

    def close(self):
        if self._pool is not None:
            self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
