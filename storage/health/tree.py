"""check_hostgator's look at the whole photo tree, listed once: temporary files left by interrupted
uploads (and probes of an interrupted check), and stray Apache/PHP configuration files in it.

A stray ``.htaccess`` in a month folder is applied by Apache after the guard at the top: one line
such as ``<FilesMatch "\\.jpg$"> SetHandler application/x-httpd-php`` makes every photo there run as
PHP. The site never writes one (storage/names.py refuses dot files), so whatever is found was put
there by someone else. ``.user.ini`` is PHP-FPM's own per-folder configuration (auto_prepend_file):
never the site's either, at any level.
"""

import ftplib
import posixpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from storage.ftp.replies import RemoteFile, parse_ftp_time, translate
from storage.health.photo_chain import PROBE_PREFIX
from storage.health.report import FAILED, OK, WARNING, reason
from storage.names import is_temporary
from storage.shipped import GUARD_NAME

LEFTOVER_AGE = timedelta(hours=1)
# Photos live two levels down (YYYY/MM); the walk stops a little deeper so that a folder loop on the
# server or a huge foreign tree cannot keep the check going.
MAX_DEPTH = 4
PHP_FOLDER_CONFIG = ".user.ini"


@dataclass(frozen=True)
class TreeFile:
    path: str
    name: str
    entry: RemoteFile
    depth: int  # 0: in the photo folder itself


@dataclass
class PhotoTree:
    root: str
    files: list = field(default_factory=list)
    unscanned: list = field(default_factory=list)  # folders below MAX_DEPTH

    def relative(self, path):
        return posixpath.relpath(path, self.root)


def list_entries(connection, folder):
    """[(name, RemoteFile)] in ``folder``, temporary names included. LIST gives no usable time:
    there, MDTM is asked for the leftovers only."""
    entries = connection.entries(folder)
    if "MLST" in connection.features:
        return entries
    dated = []
    for name, entry in entries:
        if not entry.is_dir and is_leftover_name(name):
            try:
                modified = parse_ftp_time(connection.ftp.sendcmd(f"MDTM {posixpath.join(folder, name)}")[4:].strip())
            except ftplib.error_perm:
                modified = None
            entry = RemoteFile(size=None, modified=modified)
        dated.append((name, entry))
    return dated


def is_leftover_name(name):
    return is_temporary(name) or name.startswith(PROBE_PREFIX)


def walk_photo_tree(storage):
    """Every file of the photo tree down to MAX_DEPTH. Folders of one level are listed in parallel
    over the storage's connections."""
    tree = PhotoTree(storage.remote_dir.rstrip("/") or "/")
    level, depth = [tree.root], 0
    with ThreadPoolExecutor(max_workers=max(1, storage.pool.limit)) as executor:
        while level:
            listings = executor.map(
                lambda folder: (folder, storage.pool.run("MLSD", folder, lambda c: list_entries(c, folder))), level)
            level, below = [], []
            for folder, entries in listings:
                for name, entry in entries:
                    path = posixpath.join(folder, name)
                    if entry.is_dir:
                        below.append(path)
                    else:
                        tree.files.append(TreeFile(path, name, entry, depth))
            depth += 1
            if depth <= MAX_DEPTH:
                level = below
            else:
                tree.unscanned.extend(below)
    return tree


def shown(tree, paths, limit=3):
    listed = ", ".join(tree.relative(path) for path in paths[:limit])
    return listed + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def delete_all(connection, paths):
    for path in paths:
        connection.delete(path)


def check_leftovers(tree, connection, out, fix):
    label = "temporary files"
    older_than = datetime.now(UTC) - LEFTOVER_AGE
    leftovers = sorted(file.path for file in tree.files if is_leftover_name(file.name)
                       and file.entry.modified is not None and file.entry.modified < older_than)
    if leftovers and fix:
        try:
            delete_all(connection, leftovers)
        except Exception as error:  # noqa: BLE001 -- a ✗ line, not a traceback
            out.add(label, FAILED, f"could not delete them: {reason(translate(error, 'DELE'))}")
            return
        out.add(label, OK, f"{len(leftovers)} left by interrupted uploads, deleted (--fix)")
    elif leftovers:
        out.add(label, WARNING, f"{len(leftovers)} older than an hour, left by interrupted uploads: "
                                f"{shown(tree, leftovers)} (--fix deletes them)")
    else:
        out.add(label, OK, "none older than an hour")


def is_stray_config(file):
    return (file.name == GUARD_NAME and file.depth > 0) or file.name == PHP_FOLDER_CONFIG


def check_stray_configs(tree, connection, out, fix):
    """--fix deletes what it finds in subfolders only: a .user.ini in the photo folder itself sits beside
    the guard, where someone may have put it on purpose, so it is only reported."""
    label = "stray .htaccess"
    strays = sorted((file.path, file.depth) for file in tree.files if is_stray_config(file))
    deeper = (f"; {len(tree.unscanned)} folder(s) deeper than {MAX_DEPTH} levels not scanned: "
              f"{shown(tree, tree.unscanned)}") if tree.unscanned else ""
    deletable = [path for path, depth in strays if depth > 0] if fix else []
    try:
        delete_all(connection, deletable)
    except Exception as error:  # noqa: BLE001 -- a ✗ line, not a traceback
        out.add(label, FAILED, f"could not delete {shown(tree, deletable)}: {reason(translate(error, 'DELE'))}")
        return
    left = [path for path, _depth in strays if path not in deletable]
    at_top = any(depth == 0 for _path, depth in strays)
    deleted = f"deleted (--fix): {shown(tree, deletable, limit=10)}" if deletable else ""
    if left:
        how = ("delete it in cPanel's File Manager" if fix else
               "--fix deletes those in subfolders, not one in the folder itself" if at_top else "--fix deletes it")
        found = (f"{shown(tree, left, limit=10)}: Apache (or PHP) applies it to its folder after the guard, "
                 f"e.g. to run photos as PHP ({how})")
        out.add(label, FAILED, "; ".join(part for part in (deleted, found) if part) + deeper)
    elif deleted:
        out.add(label, WARNING if deeper else OK, deleted + deeper)
    else:
        out.add(label, WARNING if deeper else OK, f"none in the photo folder's subfolders{deeper}")
