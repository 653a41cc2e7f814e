"""A small thread-safe pool of logged-in FTP connections under the host's per-IP cap.

Shared hosts cap connections per client IP (cPanel's Pure-FTPd: 8), and every gunicorn worker and
every command run from the same address draws on the same 8. When the server greets a new
connection with ``421 Too many connections``:
- if this pool already holds connections, it lowers its own limit to what it holds and waits for
  one of them to be released;
- if it holds none (other processes have every slot), it waits and tries again, with growing pauses;
both within the operation's deadline, so a save waits its turn instead of failing. A lowered limit
climbs back one connection at a time (``cap_recovery_seconds`` after the last 421), so a cap met
once during a burst does not halve the pool for the rest of the process's life.
"""

import ftplib
import logging
import threading
import time

from storage.errors import StoreBusy, StoreError, TransferDeadlineExceeded
from storage.ftp.config import ServerState
from storage.ftp.connection import FTPConnection
from storage.ftp.replies import breaks_connection, is_retryable, translate

logger = logging.getLogger(__name__)

# What the transport may raise when the host misbehaves; anything else is a bug, never retried.
TRANSPORT_ERRORS = (StoreError, ftplib.Error, OSError, EOFError)
RETRY_DELAYS = (0.2, 0.5, 1.0)  # between attempts: four attempts in all, under two seconds
GREETING_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)  # then 2 s each time, until the deadline


def is_greeting_refusal(error):
    """421 at the greeting: every slot of this IP is taken. (A 421 later, e.g. Pure-FTPd refusing
    a cleartext login, is no reason to wait.)"""
    return isinstance(error, StoreBusy) and error.code == "421" and error.operation == "connect"


class FTPPool:
    """At most ``limit`` (≤ ``config.max_connections``) connections, each used by one thread at a time."""

    def __init__(self, config, connect=FTPConnection.open):
        self.config = config
        self._connect = connect
        self._idle = []
        self._open = 0  # connections held: idle, in use, or being opened
        self._connecting = 0
        self.limit = config.max_connections
        self._lowered_at = None  # when a 421 last lowered the limit
        self._available = threading.Condition()
        self.server = ServerState()
        self.connections_opened = 0

    def deadline(self):
        """When an operation started now must be over: HOSTGATOR_FTP_TRANSFER_TIMEOUT from now."""
        return time.monotonic() + self.config.transfer_timeout

    def run(self, operation, path, work, deadline=None):
        """``work(connection)`` with retries on a fresh connection for transient failures, all of it
        (waiting for a connection, every attempt, every transfer) within ``deadline`` (monotonic)."""
        deadline = deadline or self.deadline()
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                connection = self._acquire(deadline)
            except StoreError as error:
                if not self._worth_retrying(error, delay, deadline):
                    raise
                logger.debug("FTP %s %s: %s; trying again in %.1fs", operation, path, error, delay)
                time.sleep(delay)
                continue
            connection.deadline = deadline
            try:
                result = work(connection)
            except BaseException as raw:
                if not isinstance(raw, TRANSPORT_ERRORS):
                    self._discard(connection)  # a bug or an interrupt: not the host's doing, and no retry
                    raise
                error = translate(raw, operation, path)
                if breaks_connection(error):
                    self._discard(connection)
                else:
                    self._release(connection)
                if not self._worth_retrying(error, delay, deadline):
                    raise error from None
                logger.debug("FTP %s %s (attempt %d): %s; trying again in %.1fs",
                             operation, path, attempt + 1, error, delay)
                time.sleep(delay)
                continue
            if self.server.orphans:
                try:
                    connection.delete_orphans()
                except Exception:  # noqa: BLE001 -- the work is done; this connection is just not reused
                    self._discard(connection)
                    return result
            self._release(connection)
            return result
        raise AssertionError("unreachable")

    @staticmethod
    def _worth_retrying(error, delay, deadline):
        return delay is not None and is_retryable(error) and time.monotonic() + delay < deadline

    def _acquire(self, deadline):
        pauses, refusal = iter(GREETING_RETRY_DELAYS), None
        while True:
            idle = self._reserve(deadline)
            if idle is not None:
                return idle
            try:
                connection = self._connect(self.config, self.server, deadline=deadline)
            except BaseException as error:
                holding = self._unreserve(error)
                if refusal is not None and isinstance(error, TransferDeadlineExceeded):
                    raise refusal from None  # the time ran out waiting for the host to let us in
                if not is_greeting_refusal(error):
                    raise
                refusal = error
                if holding:
                    continue  # the limit now matches what we hold: wait for one of ours
                pause = next(pauses, GREETING_RETRY_DELAYS[-1])
                if time.monotonic() + pause >= deadline:
                    raise
                logger.debug("FTP server full for this IP (%s); trying again in %.1fs", error.reply, pause)
                time.sleep(pause)
                continue
            with self._available:
                self._connecting -= 1
            self.connections_opened += 1
            return connection

    def _reserve(self, deadline):
        """An idle live connection, or None once a slot for a new one is reserved; waits for
        either until ``deadline``."""
        with self._available:
            while True:
                while self._idle:
                    connection = self._idle.pop()
                    if connection.looks_alive():
                        return connection
                    self._open -= 1
                    connection.close()
                self._recover_limit()
                if self._open < self.limit:
                    self._open += 1
                    self._connecting += 1
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreBusy("connect", detail=f"all {self.limit} FTP connections stayed busy")
                self._available.wait(min(remaining, self._seconds_until_recovery()))

    def _unreserve(self, error):
        """Give back the slot of a connection that failed to open; True if we still hold others."""
        with self._available:
            self._open -= 1
            self._connecting -= 1
            established = self._open - self._connecting
            if is_greeting_refusal(error) and established >= 1:
                # The host's per-IP cap (minus what others use) is below ours: live with what we hold.
                if established < self.limit:
                    logger.info("FTP server refused connection %d (%s); using at most %d for now",
                                established + 1, error.reply.splitlines()[-1], established)
                self.limit = min(self.limit, established)
                self._lowered_at = time.monotonic()
            self._available.notify()
            return established >= 1

    def _seconds_until_recovery(self):
        """A thread waiting under a lowered limit wakes to try one more connection when it is due."""
        if self.limit >= self.config.max_connections or self._lowered_at is None:
            return float("inf")
        return max(0.05, self._lowered_at + self.config.cap_recovery_seconds - time.monotonic())

    def _recover_limit(self):
        if self.limit < self.config.max_connections and self._lowered_at is not None \
                and time.monotonic() - self._lowered_at >= self.config.cap_recovery_seconds:
            self.limit += 1
            self._lowered_at = time.monotonic()

    def _release(self, connection):
        if connection.out_of_step:
            self._discard(connection)
            return
        connection.end_operation()
        with self._available:
            self._idle.append(connection)
            self._available.notify()

    def _discard(self, connection):
        connection.close()
        with self._available:
            self._open -= 1
            self._available.notify()

    def close(self):
        with self._available:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for connection in idle:
            connection.close()
