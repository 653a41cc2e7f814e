"""One FTP control session on top of ftplib: TLS verified or pinned before the password leaves,
data connections that resume the control connection's TLS session (cpython gh-63699), every
reply and data connection bounded by the operation's deadline, commands counted."""

import ftplib
import hashlib
import secrets
import socket
import ssl
import time
from contextlib import suppress

from storage.errors import StoreTLSError, TransferDeadlineExceeded

# How long to wait for the server's reason once a data connection failed or broke.
REPLY_AFTER_BROKEN_DATA_SECONDS = 5.0


def tls_context(config):
    if config.tls_fingerprint:
        # Shared hosts present a certificate for their own name (gatorNNNN...), not ftp.<domain>:
        # the pinned SHA-256 is checked instead of the chain and name, before USER/PASS is sent.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context()
        if config.ca_file:
            context.load_verify_locations(cafile=config.ca_file)
    # TLS 1.2 on purpose: data connections must resume the control connection's session (vsftpd
    # require_ssl_reuse, ProFTPD, some Pure-FTPd set-ups). Under TLS 1.3 the tickets arrive after
    # the handshake and each one is used up by a single resumption, so transfers after the first
    # few would be refused with 522/425. A TLS 1.2 session resumes any number of times.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def send_without_delay(sock):
    """Turn off Nagle's algorithm: FTP's commands and the last TLS records of a transfer are small,
    and each would otherwise wait for the previous segment's acknowledgement (a delayed ACK: up to
    40 ms on Linux) before leaving."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class CountingFTPMixin:
    """Counts commands sent and round trips waited for (a pipelined batch is one round trip), and
    bounds every wait by ``deadline`` (monotonic; None: the reply timeout alone): each reply and
    each data connection waits at most min(timeout, time left), the one place that enforces
    HOSTGATOR_FTP_TRANSFER_TIMEOUT for every command, login and transfer alike."""

    commands_sent = 0
    round_trips = 0
    out_of_step = False  # a reply is still to come that nobody will read: drop this session
    _awaiting_reply = False
    deadline = None
    reply_wait = None  # seconds for the next replies instead of ``timeout`` (see Transfer.final_wait)

    def bounded_timeout(self):
        wait = self.reply_wait or self.timeout
        if self.deadline is None:
            return wait
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TransferDeadlineExceeded("FTP", detail="no time left within HOSTGATOR_FTP_TRANSFER_TIMEOUT")
        return min(wait, left)

    def transfer_connection(self, cmd, rest=None):
        """The data connection for ``cmd`` (not yet TLS-wrapped) and the size its 150 reply gives,
        its connect bounded like a reply.

        Passive mode sends PASV (EPSV over IPv6) and the command in one write: one round trip per
        transfer fewer than ftplib's PASV, connect, command. RFC 959 lets the command wait for the
        data connection, and pyftpdlib, vsftpd and Pure-FTPd all do (the tests run the three). The
        command's reply is still read after the connect and before any TLS, as ftplib does, so a
        refused STOR (550, a missing folder) is read as a refusal, not waited for as a handshake."""
        full, self.timeout = self.timeout, self.bounded_timeout()
        try:
            if not self.passiveserver or rest is not None:
                conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 (TLS-wrapped by SecureFTP)
            else:
                conn, size = self._pipelined_transfer(cmd)
        finally:
            self.timeout = full
        send_without_delay(conn)
        return conn, size

    def _pipelined_transfer(self, cmd):
        passive = "PASV" if self.af == socket.AF_INET else "EPSV"
        self.putcmds([passive, cmd])
        try:
            address = self._passive_address(passive, self.getresp())
        except ftplib.Error:
            # No data connection to offer: the command's own reply (a refusal) follows; read it so
            # that the next command gets its own reply. Should it not come, the session is dropped.
            self.out_of_step = True
            with suppress(ftplib.Error):
                self.getresp()
            self.out_of_step = False
            raise
        try:
            conn = socket.create_connection(address, self.timeout, source_address=self.source_address)
        except BaseException as error:
            self.out_of_step = True  # unless the command's reply is read below
            if isinstance(error, OSError) and not isinstance(error, TimeoutError):
                self._raise_refusal_if_any()
            raise
        try:
            resp = self.getresp()
            if resp[0] == "2":  # some servers say 200 before 150 (see ftplib)
                resp = self.getresp()
            if resp[0] != "1":
                raise ftplib.error_reply(resp)  # noqa: S321 (ftplib's reply types; TLS by SecureFTP)
        except BaseException:
            conn.close()
            raise
        return conn, (ftplib.parse150(resp) if resp[:3] == "150" else None)  # noqa: S321 (parsing a reply)

    def _raise_refusal_if_any(self):
        """The data port was closed on us: a server that refuses the command may shut it at once
        (pyftpdlib does). Its refusal then is already on the way: raise it, in step again."""
        self.reply_wait = REPLY_AFTER_BROKEN_DATA_SECONDS
        try:
            self.getresp()
        except ftplib.Error:
            self.out_of_step = False
            raise
        except Exception:  # noqa: BLE001 -- no reason given: the connect's own error stands
            return
        finally:
            self.reply_wait = None

    def _passive_address(self, passive, reply):
        if passive == "EPSV":
            return ftplib.parse229(reply, self.sock.getpeername())  # noqa: S321 (parsing a reply)
        untrusted_host, port = ftplib.parse227(reply)  # noqa: S321 (parsing a reply)
        return (untrusted_host if self.trust_server_pasv_ipv4_address else self.sock.getpeername()[0]), port

    def connect(self, *args, **kwargs):
        welcome = super().connect(*args, **kwargs)
        send_without_delay(self.sock)
        self._text_file()
        return welcome

    def putcmd(self, line):
        self.commands_sent += 1
        self._awaiting_reply = True
        super().putcmd(line)

    def putcmds(self, lines):
        """Several commands in one write, so that a pipeline leaves in one segment."""
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("an illegal newline character should not be contained")
        self.commands_sent += len(lines)
        self._awaiting_reply = True
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode(self.encoding))

    def getresp(self):
        if self._awaiting_reply:
            self.round_trips += 1
            self._awaiting_reply = False
        if self.sock is not None:
            self.sock.settimeout(self.bounded_timeout())
        try:
            return super().getresp()
        except TimeoutError:
            if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
                raise TransferDeadlineExceeded("FTP", detail="no reply within HOSTGATOR_FTP_TRANSFER_TIMEOUT") from None
            raise

    def _text_file(self):
        # A reply echoing a name in another encoding must not kill the connection.
        self.file = self.sock.makefile("r", encoding=self.encoding, errors="replace")


class PlainFTP(CountingFTPMixin, ftplib.FTP):
    def ntransfercmd(self, cmd, rest=None):
        return self.transfer_connection(cmd, rest)


class SecureFTP(CountingFTPMixin, ftplib.FTP_TLS):
    """FTP_TLS that verifies (or pins) the certificate and resumes the control connection's TLS
    session on every data connection — ftplib does neither by itself (cpython gh-63699)."""

    fingerprint = None

    def auth(self):
        response = super().auth()
        self._text_file()
        self.check_pin(self.sock, "AUTH TLS")
        return response

    def check_pin(self, tls_socket, operation):
        if not self.fingerprint:
            return
        seen = hashlib.sha256(tls_socket.getpeercert(binary_form=True)).hexdigest()
        if not secrets.compare_digest(seen, self.fingerprint):
            raise StoreTLSError(operation, detail=f"certificate SHA-256 is {seen}, not the pinned "
                                                       f"HOSTGATOR_FTP_TLS_FINGERPRINT")

    def ntransfercmd(self, cmd, rest=None):
        conn, size = self.transfer_connection(cmd, rest)
        if self._prot_p:
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
                self.check_pin(conn, "data connection")
            except BaseException:
                conn.close()
                raise
        return conn, size


def enable_mode_fact(ftp, features):
    """Ask MLST to report UNIX.mode where the server offers it but not by default (pyftpdlib);
    Pure-FTPd reports it anyway. Per session, so once per connection."""
    facts = [fact for fact in features.get("MLST", "").split(";") if fact]
    if not any(fact.lower() == "unix.mode" for fact in facts):  # offered, not on ("unix.mode*" is on)
        return
    enabled = [fact.rstrip("*") for fact in facts if fact.endswith("*") or fact.lower() == "unix.mode"]
    with suppress(ftplib.Error):
        ftp.sendcmd(f"OPTS MLST {';'.join(enabled)};")


def read_features(ftp):
    """FEAT -> {'MLST': ..., 'UTF8': ..., 'SIZE': ...}; empty when the server has no FEAT."""
    features = {}
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.Error:
        return features
    for line in reply.splitlines()[1:-1]:
        name, _, argument = line.strip().partition(" ")
        if name:
            features[name.upper()] = argument
    return features


def close_quietly(ftp):
    with suppress(Exception):
        if ftp.sock is not None:
            ftp.sock.settimeout(1)
            ftp.quit()
    with suppress(Exception):
        ftp.close()
