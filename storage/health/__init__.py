"""``check_hostgator``: prove the whole photo chain, one link at a time, as the club checks it after a
deploy. Each link gives one line, ✓ or ✗ with the reason (⚠: works, but look at it; ·: not checked
because an earlier link failed); the labels are those of README.md's troubleshooting table, which
says how to fix each ✗.

Links, in order, each in the module named after its job:
- login: connect (DNS + TCP), TLS certificate, login;
- photo_chain: folder, folder writable, probe upload (through HostGatorStorage.save, the path
  every photo takes), mode 644, public URL (the probe fetched back byte-equal), probe deleted, the
  default images over FTP and HTTP, pending uploads;
- tree (the photo tree listed once): temporary files, and later stray .htaccess;
- guard: the .htaccess guard's bytes, then its effect over HTTP (guard effect, nosniff);
- confinement: whether the FTP account can write outside the photo folder.
(report.py: the lines and the recorder; http.py and remote.py: what they share. s3.py: the same
chain on PHOTO_STORAGE=s3, for check_photo_storage.)

``fix=True`` uploads missing default images and the guard (through the transport: the storage refuses
.svg and dot files on purpose), deletes old temporary files and stray .htaccess files.

The password is never printed: messages come from storage.errors, which never hold it, and every
line is scrubbed once more before it leaves (report.Recorder).
"""

from pathlib import Path

from django.core.files.storage import default_storage

from storage.ftp.replies import translate
from storage.health.confinement import check_confinement
from storage.health.guard import check_guard, check_guard_effect
from storage.health.login import connect_and_log_in
from storage.health.photo_chain import check_default_images, check_folder, check_pending, check_probe
from storage.health.report import FAILED, Recorder, reason
from storage.health.tree import check_leftovers, check_stray_configs, walk_photo_tree
from storage.shipped import DEFAULT_IMAGES_DIR, GUARD_FILE

__all__ = ["DEFAULT_IMAGES_DIR", "GUARD_FILE", "check_hostgator"]

FOLDER_LINKS = ["temporary files", ".htaccess guard", "guard effect", "nosniff", "stray .htaccess",
                "FTP confinement"]


def check_hostgator(storage=None, *, fix=False, count_pending=None, on_check=None, defaults_dir=None, guard_file=None):
    """Run every check against ``storage`` (default: default_storage, a HostGatorStorage) and return a
    HealthReport. ``count_pending``: a callable giving the number of photos waiting in the database
    (the articles app's PendingUpload; storage/ does not import it). ``on_check`` gets each Check as
    soon as it is known, so that a slow host shows progress."""
    storage = storage or default_storage
    try:
        config = storage.pool.config
    except (ValueError, KeyError) as error:
        recorder = Recorder("", on_check)
        recorder.add("settings", FAILED, str(error))
        return recorder.report
    out = Recorder(config.password, on_check)
    connection = connect_and_log_in(config, out)
    try:
        folder_ok = connection is not None and check_folder(connection, storage.remote_dir, out)
        why_not = "no FTP session" if connection is None else "no folder"
        if folder_ok:
            check_probe(storage, connection, out)
            check_default_images(storage, connection, out, fix, Path(defaults_dir or DEFAULT_IMAGES_DIR))
        else:
            if connection is None:
                out.not_checked(["folder", "folder writable"], why_not)
            out.not_checked(["probe upload", "default images"], why_not)
        if count_pending is not None:
            check_pending(count_pending, out)
        if folder_ok:
            check_folder_safety(storage, connection, out, fix, Path(guard_file or GUARD_FILE))
        else:
            out.not_checked(FOLDER_LINKS, why_not)
    finally:
        if connection is not None:
            connection.close()
    return out.report


def check_folder_safety(storage, connection, out, fix, guard_file):
    """What keeps the folder photos only: its tree, its guard and the reach of the FTP account."""
    try:
        tree = walk_photo_tree(storage)
    except Exception as error:  # noqa: BLE001 -- a ✗ line, not a traceback
        tree, listing_failed = None, reason(translate(error, "MLSD", storage.remote_dir))
    if tree is None:
        out.add("temporary files", FAILED, listing_failed)
    else:
        check_leftovers(tree, connection, out, fix)
    guard_state = check_guard(storage, connection, out, fix, guard_file)
    check_guard_effect(storage, connection, out, guard_state)
    if tree is None:
        out.add("stray .htaccess", FAILED, listing_failed)
    else:
        check_stray_configs(tree, connection, out, fix)
    check_confinement(storage, connection, out)
