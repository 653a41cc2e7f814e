"""HostGatorStorage: Django's default storage, every photo on HostGator by FTP(S).

A subclass of django-storages' FTPStorage that keeps its place in Django (settings, deconstruct,
the Storage API) and replaces what it cannot do on a shared host: see storage/ftp/ for the
transport (verified TLS, timeouts, a thread-safe pool, retries, atomic uploads) and DESIGN.md.
"""

import ftplib
import io
import posixpath
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.utils import validate_file_name
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from storages.backends.ftp import FTPStorage
from storages.base import BaseStorage

from storage.errors import StoreRefused
from storage.ftp.config import HOST_CONNECTIONS_PER_IP, FTPConfig
from storage.ftp.pool import FTPPool
from storage.names import CONTROL_CHARACTERS, is_temporary
from storage.photo_store import PhotoStore

# Photos are small; a download bigger than this spills from memory to a temporary file.
SPOOL_MAX_BYTES = 8 * 1024 * 1024

_live_storages = weakref.WeakSet()
_pool_creation = threading.Lock()


class HostGatorStorage(PhotoStore, FTPStorage):
    """Configured from settings.HOSTGATOR_FTP (the HOSTGATOR_* environment variables); keyword
    arguments with the same names in lower case override single values (tests, scripts)."""

    most_connections = HOST_CONNECTIONS_PER_IP  # for all processes of one address: a bulk command's ceiling
    most_connections_why = (f"the host accepts {HOST_CONNECTIONS_PER_IP} FTP connections per IP address, "
                            "the site's included")
    place = "l'hébergement des photos (HostGator)"
    short = "HostGator"
    when_full = ("dans cPanel, « Utilisation du disque » montre ce qui occupe la place (ou demandez plus "
                 "d'espace à HostGator)")

    def __init__(self, **overrides):
        # FTPStorage.__init__ wants a location URL with the password inside; we keep settings apart.
        BaseStorage.__init__(self, **overrides)
        self._overrides = overrides
        self._pool = None
        _live_storages.add(self)

    def get_default_settings(self):
        values = settings.HOSTGATOR_FTP
        return {
            "host": values["HOST"],
            "port": values.get("PORT", 21),
            "user": values["USER"],
            "password": values.get("PASSWORD", ""),
            "remote_dir": values["DIR"],
            "base_url": values["PUBLIC_URL"],
            "tls": values.get("TLS", "explicit"),
            "ca_file": values.get("CA_FILE"),
            "tls_fingerprint": values.get("TLS_FINGERPRINT"),
            "timeout": values.get("TIMEOUT", 15),
            "passive": values.get("PASSIVE", True),
            "max_connections": values.get("MAX_CONNECTIONS", 3),
            "file_mode": values.get("FILE_MODE", "644"),
            "transfer_timeout": values.get("TRANSFER_TIMEOUT", 60),
            "cap_recovery_seconds": values.get("CAP_RECOVERY_SECONDS", 60),
        }

    def deconstruct(self):
        # FTPStorage is @deconstructible; re-decorating here would replace this method.
        path, args, kwargs = super().deconstruct()
        # Never let a secret reach a migration file.
        return path, args, {key: value for key, value in kwargs.items() if key not in {"password", "tls_fingerprint"}}

    def reload_settings(self):
        """Read settings.HOSTGATOR_FTP again (tests override it) and drop open connections."""
        self.disconnect()
        for name, value in {**self.get_default_settings(), **self._overrides}.items():
            setattr(self, name, value)

    @property
    def pool(self):
        # Under a lock: request threads arriving together at a fresh worker must share one pool, or
        # each would open its own connections (past the host's cap) and leave them to the GC.
        with _pool_creation:
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self):
        return FTPPool(FTPConfig.from_settings({
            "HOST": self.host, "PORT": self.port, "USER": self.user, "PASSWORD": self.password,
            "TLS": self.tls, "CA_FILE": self.ca_file, "TLS_FINGERPRINT": self.tls_fingerprint,
            "TIMEOUT": self.timeout, "PASSIVE": self.passive, "MAX_CONNECTIONS": self.max_connections,
            "FILE_MODE": self.file_mode, "TRANSFER_TIMEOUT": self.transfer_timeout,
            "CAP_RECOVERY_SECONDS": self.cap_recovery_seconds,
        }))

    def disconnect(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _start_connection(self):
        raise NotImplementedError("HostGatorStorage connects through its pool (storage/ftp/connection.py)")

    # --- names ----------------------------------------------------------------------------------
    def remote_path(self, name):
        """The absolute path on the server of a name read from the database."""
        name = str(name).replace("\\", "/")
        if not name or name.startswith("/") or "://" in name or CONTROL_CHARACTERS.search(name) \
                or ".." in PurePosixPath(name).parts:
            raise SuspiciousFileOperation(f"'{name}' is not a name inside the photo folder")
        return posixpath.join(self.remote_dir, name)

    def relative_name(self, path):
        return posixpath.relpath(path, self.remote_dir)

    # --- reading --------------------------------------------------------------------------------
    def stat(self, name):
        path = self.remote_path(name)
        return self.pool.run("MLST", path, lambda connection: connection.stat(path))

    def exists(self, name):
        return self.stat(name) is not None

    def size(self, name):
        found = self.stat(name)
        if found is None or found.size is None:
            raise FileNotFoundError(f"'{name}' is not on the FTP server")
        return found.size

    def get_modified_time(self, name):
        found = self.stat(name)
        if found is None or found.modified is None:
            raise FileNotFoundError(f"no modification time for '{name}' on the FTP server")
        return found.modified if settings.USE_TZ else timezone.make_naive(found.modified)

    def listdir(self, path):
        remote = self.remote_path(path) if path not in {"", ".", "/"} else self.remote_dir
        return self.pool.run("MLSD", remote, lambda connection: connection.listdir(remote))

    def file_sizes(self, path):
        """{name: size} of the files in folder ``path`` (one MLSD), temporary names left out."""
        remote = self.remote_path(path) if path not in {"", ".", "/"} else self.remote_dir
        return self.pool.run("MLSD", remote, lambda connection: {
            name: entry.size for name, entry in connection.entries(remote)
            if not entry.is_dir and not is_temporary(name)})

    def _open(self, name, mode="rb"):
        if any(flag in mode for flag in "wa+"):
            raise ValueError("HostGatorStorage files are read-only; write them with save()")
        path = self.remote_path(name)
        spool = SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)

        def download(connection):
            spool.seek(0)
            spool.truncate()  # a retry starts afresh
            connection.retrieve(path, spool.write)

        try:
            self.pool.run("RETR", path, download)
        except StoreRefused as refused:
            spool.close()
            if refused.code == "550":
                raise FileNotFoundError(str(refused)) from None
            raise
        spool.seek(0)
        return File(spool, name)

    # --- writing --------------------------------------------------------------------------------
    def save(self, name, content, max_length=None):
        """Like Storage.save, but the free-name check rides in the upload's own round trips
        (checked right before the atomic rename) instead of a separate exists() first."""
        name, content = self.writable(name, content)
        names = self.candidate_names(name, max_length)
        first = next(names, None)
        if first is None:
            raise SuspiciousFileOperation(f"No name of at most {max_length} characters is left for '{name}'")
        path = self.remote_path(first)
        saved = self.pool.run("upload", path, lambda connection: connection.upload_atomically(
            path, content, alternatives=(self.remote_path(other) for other in names)))
        name = self.relative_name(saved)
        validate_file_name(name, allow_relative_path=True)
        return name

    def _save(self, name, content):
        return self.save(name, content)

    def save_many(self, files):
        """Upload {name: bytes} in parallel (up to the pool's connections), each atomically, all
        within one HOSTGATOR_FTP_TRANSFER_TIMEOUT. Names here carry a content hash, so an existing
        file of that name holds the same bytes and is simply replaced. Raises the first failure
        once every upload has finished or failed."""
        for name in files:
            self.check_writable_name(name)
        deadline = self.pool.deadline()

        def upload(item):
            path = self.remote_path(item[0])
            return self.pool.run("upload", path, lambda connection: connection.upload_atomically(
                path, io.BytesIO(item[1]), overwrite=True), deadline=deadline)

        with ThreadPoolExecutor(max_workers=max(1, min(len(files), self.pool.limit))) as executor:
            futures = [executor.submit(upload, item) for item in files.items()]
        errors = [future.exception() for future in futures if future.exception()]
        if errors:
            raise errors[0]
        return list(files)

    def save_own_file(self, name, data):
        """One of the site's own files (settings.DEFAULT_IMAGE_NAMES: the default images, SVG
        included, which photo names may not be), atomically, replacing."""
        if name not in settings.DEFAULT_IMAGE_NAMES:
            raise SuspiciousFileOperation(f"'{name}' is not one of the site's own files")
        path = self.remote_path(name)
        self.pool.run("upload", path, lambda connection: connection.upload_atomically(
            path, io.BytesIO(data), overwrite=True))

    def delete(self, name):
        if not name:
            raise ValueError("The name must be given to delete().")
        path = self.remote_path(name)
        self.pool.run("DELE", path, lambda connection: connection.delete(path))

    def delete_many(self, names):
        paths = [self.remote_path(name) for name in names]

        def delete_all(connection):
            # One round trip for all the DELEs, one more for checking those refused: a photo has
            # some 30 possible names (storage/names.py), most of them absent for an old photo.
            replies = connection.pipeline([f"DELE {path}" for path in paths])
            refused = [(path, reply) for path, reply in zip(paths, replies, strict=True)
                       if isinstance(reply, ftplib.Error)]
            if refused:
                checks = connection.pipeline([connection.stat_command(path) for path, _ in refused])
                for (_path, refusal), check in zip(refused, checks, strict=True):
                    if not isinstance(check, ftplib.Error):
                        raise refusal  # still there: the DELE really failed

        self.pool.run("DELE", ", ".join(paths), delete_all)


@receiver(setting_changed)
def reload_on_settings_change(setting, **kwargs):
    if setting == "HOSTGATOR_FTP":
        for storage in list(_live_storages):
            storage.reload_settings()
