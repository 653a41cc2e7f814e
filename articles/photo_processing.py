"""An upload checked and normalised with the site's limits (settings.PHOTO_*), one decode at a time
per process: storage.images does the Pillow work, storage.photo_budget counts the turns."""

import threading
from dataclasses import replace

from django.conf import settings

from storage.images import process_photo
from storage.photo_budget import DecodeSlots, PhotoBudget

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
