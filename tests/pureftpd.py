"""Debian's Pure-FTPd, run as cPanel runs it, for the tests that need the real host's own server.

cPanel's Pure-FTPd: virtual users (PureDB), explicit TLS allowed, chroot to the account's home,
at most 8 connections per client IP (``421 Too many connections (8) from this IP``), umask
133:022 (files 644, folders 755), optional quota (``-n files:megabytes``, "552 Quota exceeded").

Debian's package conflicts with vsftpd's (both provide ftp-server), so .ci/run unpacks it into
/opt/pure-ftpd instead of installing it; ``PURE_FTPD_DIR`` points elsewhere if needed.
"""

import os
import pwd
import random
import secrets
import subprocess
from pathlib import Path

from storage.embedded import PublicFolderServer
from storage.embedded_state import LOOPBACK, REMOTE_PHOTO_DIR, hostgator_settings
from tests.ftp_servers import FTPDaemon

PURE_FTPD_DIR = Path(os.environ.get("PURE_FTPD_DIR", "/opt/pure-ftpd"))
CANDIDATES = (PURE_FTPD_DIR / "usr/sbin/pure-ftpd", Path("/usr/sbin/pure-ftpd"))
PURE_PW_CANDIDATES = (PURE_FTPD_DIR / "usr/bin/pure-pw", Path("/usr/bin/pure-pw"))
TEST_TIMEOUT = 5.0


def pure_ftpd_binary():
    return next((path for path in CANDIDATES if path.exists()), None)


def pure_ftpd_available():
    return pure_ftpd_binary() is not None and os.geteuid() == 0  # it drops privileges itself


class PureFTPd(FTPDaemon):
    """``PureFTPd(base_dir, certificate, max_per_ip=8, quota_mb=None, quota_files=None).start()``; ``.settings``
    (HOSTGATOR_FTP for it), ``.folder`` (the photo folder on disk), ``.stop()``."""

    name = "pure-ftpd"
    user = "cmtch@cmtch.online"

    def __init__(self, base_dir: Path, certificate, max_per_ip=8, quota_mb=None, quota_files=None):
        self.base_dir = Path(base_dir)
        self.certfile, self.keyfile = certificate
        self.max_per_ip = max_per_ip
        self.quota_mb, self.quota_files = quota_mb, quota_files
        self.password = secrets.token_urlsafe(12)
        self.home = self.base_dir / "home"
        self.folder = self.home / REMOTE_PHOTO_DIR.strip("/")
        self._http = PublicFolderServer(self.home / "public_html")

    @property
    def settings(self):
        return hostgator_settings(ftp_port=self.port, http_port=self._http.port, password=self.password,
                                  ca_file=self.certfile, user=self.user, timeout=TEST_TIMEOUT)

    def _prepare(self):
        ftp_account = pwd.getpwnam("ftp")
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in (self.home, *self.folder.relative_to(self.home).parents, self.folder.relative_to(self.home)):
            os.chown(self.home / path, ftp_account.pw_uid, ftp_account.pw_gid)
        self.pem = self.base_dir / "pure-ftpd.pem"  # Pure-FTPd wants the key and the certificate in one file
        self.pem.write_bytes(Path(self.keyfile).read_bytes() + Path(self.certfile).read_bytes())
        self.pem.chmod(0o600)
        self.database = self._user_database(ftp_account)

    def _command(self):
        passive_low = random.randrange(30000, 60000, 100)
        command = [str(pure_ftpd_binary()), "-S", f"{LOOPBACK},{self.port}", "-l", f"puredb:{self.database}",
                   "-C", str(self.max_per_ip), "-c", "50", "-Y", "1", "-2", str(self.pem), "-E", "-A", "-H",
                   "-p", f"{passive_low}:{passive_low + 99}", "-P", LOOPBACK, "-U", "133:022"]
        if self.quota_mb or self.quota_files:
            command += ["-n", f"{self.quota_files or 10000}:{self.quota_mb or 10000}"]
        return command

    def _user_database(self, account):
        """A PureDB with one virtual user. The hash is SHA-512 crypt made by openssl: pure-pw's own
        argon2 costs Pure-FTPd 13 s per login here."""
        hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=self.password, text=True,
                                capture_output=True, check=True).stdout.strip()
        passwd = self.base_dir / "pureftpd.passwd"
        passwd.write_text(f"{self.user}:{hashed}:{account.pw_uid}:{account.pw_gid}::{self.home}/./::::::::::::\n")
        passwd.chmod(0o600)
        database = self.base_dir / "pureftpd.pdb"
        pure_pw = next(path for path in PURE_PW_CANDIDATES if path.exists())
        subprocess.run([str(pure_pw), "mkdb", str(database), "-f", str(passwd)], check=True, capture_output=True)
        return database
