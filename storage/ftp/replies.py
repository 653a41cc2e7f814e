"""What an FTP server's replies mean: errors translated into storage.errors, listings and facts
parsed. No sockets here; storage/ftp/connection.py sends the commands.
"""

import ftplib
import re
import socket
import ssl
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.errors import (
    StoreBusy,
    StoreError,
    StoreFull,
    StoreLoginError,
    StoreRefused,
    StoreTimeout,
    StoreTLSError,
    StoreUnavailable,
)

# 452/552 say "no room" in RFC 959's own words. A 451 is a local error of any kind; Pure-FTPd
# answers "451-Error during write to file" (then "No space left on device" or its quota) when the
# disk or the account is full, so a 451 counts as full only when its text says so.
FULL_CODES = {"452", "552"}
FULL_WORDS = re.compile(r"write|space|quota|disk full|full", re.IGNORECASE)


# Pure-FTPd's login reply with quotas: "230-12 files used (1%) - authorized: 1000 files" and
# "230 97 Kbytes used (9%) - authorized: 1024 Kb".
QUOTA_USE = re.compile(r"(\d+)\s*%\)?\s*-\s*authorized", re.IGNORECASE)


def quota_use_percent(login_reply):
    """The highest quota use (files or space) the server reported at login, or None."""
    uses = [int(value) for value in QUOTA_USE.findall(login_reply or "")]
    return max(uses) if uses else None


@dataclass(frozen=True)
class RemoteFile:
    size: int | None
    modified: datetime | None = None
    mode: str | None = None
    is_dir: bool = False


def reply_text(error):
    """The server's whole reply, every line of a multi-line one ('552-Transfer aborted (quota)\\n
    552 Quota exceeded...'): the reason is often on the first lines, the last one only sums up."""
    return str(error).strip() if isinstance(error, ftplib.Error) else ""


def means_host_full(reply):
    code = reply[:3]
    return code in FULL_CODES or (code == "451" and bool(FULL_WORDS.search(reply)))


def translate(error, operation, path=""):
    """Any failure of ftplib/socket/ssl -> one StoreError that names operation, path and reply."""
    if isinstance(error, StoreError):
        return error
    reply = reply_text(error)
    if isinstance(error, ftplib.Error) and means_host_full(reply):
        return StoreFull(operation, path, reply, "the hosting space is full (disk or quota)")
    if isinstance(error, ftplib.error_perm):
        if reply.startswith("530"):
            return StoreLoginError(operation, path, reply, "check HOSTGATOR_FTP_USER and HOSTGATOR_FTP_PASSWORD")
        return StoreRefused(operation, path, reply)
    if isinstance(error, ftplib.error_temp):
        return StoreBusy(operation, path, reply)
    if isinstance(error, ssl.SSLCertVerificationError):
        return StoreTLSError(operation, path, reason=error.verify_message,
                                 detail=f"{error.verify_message}; set HOSTGATOR_FTP_CA_FILE or "
                                        f"pin HOSTGATOR_FTP_TLS_FINGERPRINT")
    if isinstance(error, TimeoutError):
        return StoreTimeout(operation, path, detail="no answer in time (HOSTGATOR_FTP_TIMEOUT)")
    if isinstance(error, socket.gaierror):
        return StoreUnavailable(operation, path, detail=f"unknown host ({error.strerror})")
    if isinstance(error, ftplib.Error):  # a reply out of protocol
        return StoreUnavailable(operation, path, reply, "unexpected reply")
    if isinstance(error, EOFError):
        return StoreUnavailable(operation, path, detail="the server closed the connection")
    if isinstance(error, OSError):
        return StoreUnavailable(operation, path, detail=error.strerror or str(error) or type(error).__name__)
    return StoreError(operation, path, detail=type(error).__name__)


def is_retryable(error):
    """Worth another attempt on a fresh connection: resets, closes, 4xx. Never a permanent 5xx, a
    full host, a login or certificate failure, nor a timeout (a stalled host must fail in time)."""
    return isinstance(error, StoreUnavailable | StoreBusy) and not isinstance(error, StoreTimeout)


def breaks_connection(error):
    """After these the control connection cannot be trusted any more (421 closes it too)."""
    return not isinstance(error, StoreRefused | StoreBusy) or error.code == "421"


def parse_mlst_facts(line):
    """' type=file;size=12;modify=20261125093000;UNIX.mode=0644; /a/b.jpg' -> RemoteFile."""
    facts_text = line.strip().split(" ", 1)[0]
    facts = {}
    for fact in facts_text.split(";"):
        if "=" in fact:
            key, _, value = fact.partition("=")
            facts[key.strip().lower()] = value.strip()
    mode = facts.get("unix.mode")
    return RemoteFile(
        size=int(facts["size"]) if facts.get("size", "").isdigit() else None,
        modified=parse_ftp_time(facts.get("modify")),
        mode=mode[-3:] if mode else None,
        is_dir=facts.get("type", "").lower() in {"dir", "cdir", "pdir"},
    )


def parse_mlst_reply(reply):
    """'250-Listing x\\n type=file;size=12;... x\\n250 End' -> RemoteFile."""
    lines = reply.splitlines()
    facts = next((line for line in lines[1:] if line.startswith(" ")), lines[1] if len(lines) > 1 else "")
    return parse_mlst_facts(facts)


def mlst_reports_mode(features):
    return "unix.mode" in features.get("MLST", "").lower()


def same_mode(mode, wanted):
    with suppress(TypeError, ValueError):
        return int(mode, 8) == int(wanted, 8)
    return False


def parse_ftp_time(value):
    if not value:
        return None
    with suppress(ValueError):
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return None
