"""Once a photo is on the store, its other files (widths of the ladder, AVIF, WebP) are made as
PHOTO_RENDITIONS_LATER says: "background" (a thread of this process, at the lowest CPU priority,
one photo at a time), "now" (right away, in the caller's thread) or "off" (``manage.py
regenerate_renditions`` makes them).

Why a thread rather than a task queue (Celery, RQ...): Render's free plan has one web process and
no worker, and a lost job costs nothing here -- a photo whose other files never came is served in
JPEG, and regenerate_renditions finds it (Photo.files says what it lacks). The originals waiting in
the thread's queue are in memory (about 0.6 MB each); beyond MAX_WAITING the newest are left to
regenerate_renditions rather than the process's 512 MB.
"""

import logging
import os
import queue
import threading

from django.conf import settings
from django.db import connections

from articles.models import Photo
from articles.photo_renditions import complete_photo

logger = logging.getLogger(__name__)

MAX_WAITING = 64
_queue = queue.Queue(maxsize=MAX_WAITING)
_worker = None
_worker_lock = threading.Lock()


def make_the_other_files(photo_pk, original):
    """Called when ``photo_pk``'s original (``original``: its bytes) and first files are on the store."""
    mode = settings.PHOTO_RENDITIONS_LATER
    if mode == "now":
        complete_quietly(photo_pk, original)
    elif mode == "background":
        try:
            _queue.put_nowait((photo_pk, original))
        except queue.Full:
            logger.warning("Photo %s: its AVIF/WebP files wait for regenerate_renditions (%s photos queued)",
                           photo_pk, MAX_WAITING)
            return
        start_worker()
    elif mode != "off":
        raise ValueError(f"PHOTO_RENDITIONS_LATER must be background, now or off, not {mode!r}")


def complete_quietly(photo_pk, original):
    """complete_photo(); a failure is logged, never raised: the photo is on the store already and
    served in its own format, and regenerate_renditions will find what it lacks."""
    try:
        photo = Photo.objects.filter(pk=photo_pk).first()
        if photo is not None:
            done = complete_photo(photo, original)
            logger.info("Photo %s: %s more files (%s KB)", photo.name, done.made, done.bytes // 1024)
    except Exception:
        logger.exception("Photo %s: its other files could not be made now (regenerate_renditions will)", photo_pk)


def start_worker():
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=work, name="photo-renditions", daemon=True)
            _worker.start()


def work():
    try:
        # Linux gives each thread its own nice value: editors' requests and readers' pages come first.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
    while True:
        photo_pk, original = _queue.get()
        try:
            complete_quietly(photo_pk, original)
        finally:
            connections.close_all()  # this thread's own connection: none is left open between photos
            _queue.task_done()


def wait_until_done():
    """Block until every queued photo has its files (tests, benchmarks, scripts before exiting)."""
    _queue.join()
