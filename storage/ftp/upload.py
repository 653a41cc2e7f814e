"""AtomicUploads: how FTPConnection writes a file so that no reader ever sees a half file at its
name, and no size the server did not keep goes public.

Round trips of one warm upload (``upload_atomically``): 1. PASV + STOR <temporary> (sent
together, storage/ftp/session.py), then the data  2. MLST <temporary> (size and mode) + MLST
<final> (is the name free?)  3. RNFR + RNTO. SITE CHMOD only when the mode is wrong; without
MLST, SIZE + SITE CHMOD instead. Each step is one pipeline (several commands sent before the
replies are read, as RFC 959 allows), harmless if an earlier command in it fails (a failed RNFR
turns RNTO into a 503, nothing else changes).
"""

import ftplib
import io
import logging
import posixpath
import secrets
import select
import time

from storage.errors import StoreUnavailable
from storage.ftp.replies import RemoteFile, means_host_full, mlst_reports_mode, parse_mlst_reply, reply_text, same_mode
from storage.ftp.transfer import NameClaim, wait_until_delivered
from storage.names import TEMP_PREFIX, VISIBLE_TEMP_PREFIX

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# Sent in slices of one TLS record at most, the deadline checked before each: a slice on a link
# crawling at 16 KB/s takes about a second, so no send overshoots the deadline by more.
SEND_SLICE = 16 * 1024


class AtomicUploads:
    """FTPConnection's writing side (a mixin: it uses the connection's session, pool state,
    features, pipeline and transfers)."""

    def upload_atomically(self, path, fileobj, overwrite=False, alternatives=()):
        """Write ``fileobj`` to ``path`` so that no reader ever sees a half file there: upload to a
        hidden temporary name in the same folder, check its size, set the mode, rename.

        With overwrite=False an existing file is never replaced: the next name from
        ``alternatives`` (an iterable of paths) is used instead. Returns the path written.
        """
        if fileobj.seekable():
            fileobj.seek(0)  # a retry starts from the beginning
        claim = None if overwrite else NameClaim(self, path, iter(alternatives))
        temporary = None
        try:
            temporary, sent = self._store_temporary(posixpath.dirname(path), fileobj)
            # Where MLST tells the mode, one command checks size and mode, and SITE CHMOD is only
            # sent when the server's default is not already right (Pure-FTPd on cPanel: 644).
            mode_known = mlst_reports_mode(self.features)
            checks = [f"MLST {temporary}" if mode_known else f"SIZE {temporary}"]
            set_mode = bool(self.config.file_mode) and not self.server.chmod_refused
            if set_mode and not mode_known:
                checks.append(f"SITE CHMOD {self.config.file_mode} {temporary}")
            if claim:
                claim.lock()
                checks.append(self.stat_command(path))
            replies = self.pipeline(checks)
            stored = None if isinstance(replies[0], Exception) else (
                parse_mlst_reply(replies[0]) if mode_known else RemoteFile(size=int(replies[0].split()[-1])))
            if stored is None or stored.size != sent:
                raise StoreUnavailable("verify upload", path, str(replies[0]).strip(),
                                           f"{sent} bytes sent; the server did not keep them all")
            if set_mode and mode_known and not same_mode(stored.mode, self.config.file_mode):
                self.note_chmod_refusal(self.pipeline([f"SITE CHMOD {self.config.file_mode} {temporary}"])[0])
            elif set_mode and not mode_known:
                self.note_chmod_refusal(replies[1])
            if claim:
                path = claim.first_free(replies[-1])
            for reply in self.pipeline([f"RNFR {temporary}", f"RNTO {path}"]):
                if isinstance(reply, Exception):
                    raise reply
        except BaseException:
            if temporary:
                self.discard_temporary(temporary)
            raise
        finally:
            if claim:
                claim.release()
        self.last_used = time.monotonic()
        return path

    def note_chmod_refusal(self, reply):
        if isinstance(reply, Exception):
            # cPanel's Pure-FTPd allows SITE CHMOD; a server that does not already applies its own
            # umask (usually 644). Say it once and stop asking.
            self.server.chmod_refused = True
            logger.warning("FTP server refused SITE CHMOD (%s); files keep the server's default mode",
                           str(reply).strip())

    def _store_temporary(self, folder, fileobj):
        """Upload under a temporary name in ``folder``: (its path, bytes sent). Hidden name first;
        if the server refuses dot files, the visible prefix from then on."""
        prefixes = [self.server.temp_prefix] if self.server.temp_prefix else [TEMP_PREFIX, VISIBLE_TEMP_PREFIX]
        for prefix in prefixes:
            temporary = posixpath.join(folder, f"{prefix}{secrets.token_hex(6)}.part")
            try:
                sent = self._store(temporary, fileobj)
            except ftplib.error_perm as refusal:
                self.discard_temporary(temporary)  # a refusal may come after part of the data
                if prefix == prefixes[-1] or not fileobj.seekable() or means_host_full(reply_text(refusal)):
                    raise
                fileobj.seek(0)
                continue
            except BaseException:
                self.discard_temporary(temporary)
                raise
            self.server.temp_prefix = prefix
            return temporary, sent
        raise AssertionError("unreachable")

    def _store(self, path, fileobj):
        folder = posixpath.dirname(path)
        # Read before sending: another thread may create the folder while this upload is refused.
        folder_known = folder in self.server.known_dirs
        try:
            return self._send(path, fileobj)
        except ftplib.error_perm as refusal:
            if folder_known or not fileobj.seekable() or means_host_full(reply_text(refusal)):
                raise
        # The folder may be missing (a new month): make it, then try once more.
        self.makedirs(folder)
        fileobj.seek(0)
        return self._send(path, fileobj)

    def _send(self, path, fileobj):
        sent = 0
        with self._transfer(f"STOR {path}") as conn:
            while chunk := fileobj.read(CHUNK_SIZE):
                view = memoryview(chunk)
                for start in range(0, len(view), SEND_SLICE):
                    self._send_slice(conn, view[start:start + SEND_SLICE], path)
                sent += len(chunk)
            wait_until_delivered(conn, self, path)
        self.server.known_dirs.add(posixpath.dirname(path))
        return sent

    def _send_slice(self, conn, piece, path):
        """Send once the data connection can take more, unless the server has answered meanwhile:
        a reply in the middle of an upload is a refusal (Pure-FTPd over quota stops reading and
        says "552 Quota exceeded"), and waiting for the blocked socket would hide it."""
        timeout = self.bounded_timeout("upload", path)
        readable, writable, _ = select.select([self.ftp.sock], [conn], [], timeout)
        if readable:
            raise ConnectionAbortedError("the server replied before the end of the upload")
        if not writable:
            raise TimeoutError("the server stopped reading the upload")
        conn.settimeout(timeout)
        conn.sendall(piece)

    def server_has_replied(self):
        try:
            return bool(select.select([self.ftp.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def discard_temporary(self, temporary):
        """Best effort: a failed upload leaves no temporary file behind. On a dead connection the
        name waits in ``orphans`` for the next healthy one (and stays recognisable by its prefix
        for check_hostgator's clean-up should this process die first)."""
        if self.out_of_step or (self.deadline is not None and time.monotonic() >= self.deadline):
            self.server.orphans.add(temporary)  # no reply to trust here, or no time left to wait for one
            return
        try:
            self.ftp.sendcmd(f"DELE {temporary}")
        except ftplib.error_perm:
            pass  # never created
        except Exception:
            self.server.orphans.add(temporary)

    def store_bytes(self, path, data):
        """Plain (non-atomic) upload, for small files of our own such as the folder's guard."""
        self._store(path, io.BytesIO(data))
