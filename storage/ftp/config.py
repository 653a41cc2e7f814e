"""The transport's settings (FTPConfig, from settings.HOSTGATOR_FTP) and what a pool learns of its
server (ServerState). No sockets here."""

import threading
from dataclasses import dataclass, field

# cPanel's Pure-FTPd accepts 8 connections per client IP, shared by every process of that address
# (beyond it: 421, which the pool lives with by lowering its limit, storage/ftp/pool.py).
HOST_CONNECTIONS_PER_IP = 8


@dataclass(frozen=True)
class FTPConfig:
    host: str
    user: str
    password: str = field(repr=False)
    port: int = 21
    tls: str = "explicit"
    ca_file: str | None = None
    tls_fingerprint: str | None = field(default=None, repr=False)
    timeout: float = 15.0
    passive: bool = True
    # 3: a photo's three files in parallel, and of the host's 8 per IP enough left (even with a
    # second gunicorn worker) for check_hostgator, the retry or the migration run from the same address.
    max_connections: int = 3
    file_mode: str | None = "644"
    transfer_timeout: float = 60.0
    cap_recovery_seconds: float = 60.0  # after a 421 lowered the pool's limit, try one more again

    @classmethod
    def from_settings(cls, values):
        """Build from the HOSTGATOR_FTP settings dict (keys: DESIGN.md)."""
        tls = str(values.get("TLS") or "explicit").strip().lower()
        if tls not in {"explicit", "off"}:
            raise ValueError(f"HOSTGATOR_FTP_TLS must be 'explicit' or 'off', not {tls!r}")
        fingerprint = values.get("TLS_FINGERPRINT") or None
        if fingerprint:
            fingerprint = fingerprint.replace(":", "").strip().lower()
            if len(fingerprint) != 64 or any(char not in "0123456789abcdef" for char in fingerprint):
                raise ValueError("HOSTGATOR_FTP_TLS_FINGERPRINT must be a SHA-256 (64 hex digits, colons allowed)")
        return cls(
            host=values["HOST"], port=int(values.get("PORT") or 21), user=values["USER"],
            password=values.get("PASSWORD") or "", tls=tls, ca_file=values.get("CA_FILE") or None,
            tls_fingerprint=fingerprint, timeout=float(values.get("TIMEOUT") or 15),
            passive=bool(values.get("PASSIVE", True)), max_connections=max(1, int(values.get("MAX_CONNECTIONS") or 3)),
            file_mode=str(values["FILE_MODE"]) if values.get("FILE_MODE") else None,
            transfer_timeout=float(values.get("TRANSFER_TIMEOUT") or 60),
            cap_recovery_seconds=float(values.get("CAP_RECOVERY_SECONDS", 60)),
        )


@dataclass
class ServerState:
    """What one server told us, shared by all connections of a pool so that later connections
    skip those round trips: its FEAT answer, folders known to exist, whether SITE CHMOD works."""

    features: dict | None = None  # None until a connection has asked (FEAT)
    known_dirs: set = field(default_factory=set)
    chmod_refused: bool = False
    # Temporary files of uploads whose connection died: deleted through the next healthy one.
    orphans: set = field(default_factory=set)
    temp_prefix: str | None = None  # TEMP_PREFIX, or VISIBLE_TEMP_PREFIX where dot files are refused
    login_reply: str = ""  # the last 230 reply, every line
    name_locks: tuple = field(default_factory=lambda: tuple(threading.Lock() for _ in range(64)))

    def lock_for(self, path):
        return self.name_locks[hash(path) % len(self.name_locks)]
