"""The one small hierarchy of errors for every photo store (HostGator by FTP, an S3 bucket): the
pipeline meets the same ones whatever the store (storage/s3_errors.py maps botocore's onto them).

A message names the protocol and operation ("FTP upload", "S3 PUT"), the remote path and the
server's reply; it never contains the password or secret key (the transports never hand them to
anything that formats text).
"""


class StoreError(Exception):
    """Base class: the store did not do what was asked."""

    def __init__(self, operation, path="", reply="", detail="", protocol="FTP"):
        self.operation, self.path, self.reply, self.detail = operation, path, reply, detail
        parts = [f"{protocol} {operation}"]
        if path:
            parts.append(f"'{path}'")
        parts.append("failed")
        message = " ".join(parts)
        if reply:
            # Every line of a multi-line reply: Pure-FTPd puts the reason first ("451-Error during
            # write to file") and a summary last.
            message += f": server replied {' | '.join(line.strip() for line in reply.splitlines())!r}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)

    @property
    def code(self):
        """The three-digit reply code as a string ('550'), or '' when the server said nothing."""
        return self.reply[:3] if self.reply[:3].isdigit() else ""


class StoreUnavailable(StoreError):
    """No usable connection: refused, reset, closed, unknown host. Worth retrying later."""


class StoreTimeout(StoreUnavailable):
    """The server accepted the connection or the command, then said nothing in time."""


class TransferDeadlineExceeded(StoreTimeout):
    """Bytes were still flowing, too slowly: the whole transfer outlived HOSTGATOR_FTP_TRANSFER_TIMEOUT."""


class StoreTLSError(StoreError):
    """The server's certificate could not be verified, or does not match the pinned fingerprint."""

    def __init__(self, operation, path="", reply="", detail="", reason="", protocol="FTP"):
        self.reason = reason or detail  # why verification failed, in a few words
        super().__init__(operation, path, reply, detail, protocol)


class StoreLoginError(StoreError):
    """The server refused the user name or password (530)."""


class StoreRefused(StoreError):
    """A permanent refusal (5xx): retrying the same request cannot help."""


class StoreFull(StoreRefused):
    """No room left on the host (452/552, or a 451 write error): disk or account quota full.
    Sending the same file again cannot help until someone frees space in cPanel."""


class StoreBusy(StoreError):
    """A transient refusal (4xx, including 421 too many connections) that outlived our retries."""


class UnsafeName(ValueError):
    """A file name the photo folder must never hold: it would escape the folder, or Apache/PHP on
    the host would run it or serve it as a page."""


# Failures of the host itself, which every other photo would meet too: a batch (the retry queue, the
# migration, regenerate_renditions) stops at the first one and leaves the rest to its next run.
HOST_WIDE = (StoreUnavailable, StoreBusy, StoreLoginError, StoreTLSError, StoreFull)
