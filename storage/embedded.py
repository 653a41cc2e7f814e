"""The *embedded default*: a stand-in for HostGator on loopback, so the whole photo chain (admin upload ->
FTPS -> public URL -> page) works with no external service.

It plays both halves of the real host: an FTPS server behaving like cPanel's Pure-FTPd (explicit TLS
required, files 644 and folders 755, 8 sessions per IP, idle sessions closed with Pure-FTPd's 421) and an
HTTP server for ``public_html`` standing in for Apache. Used by ``python -m storage.embedded`` (bin/dev)
and, subclassed with command recording and fault injection, by the test suite (tests/ftp_servers.py).
"""


import argparse
import logging
import os
import signal
import threading
from functools import cache, partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from storage.embedded_state import (
    EMBEDDED_USER,
    FILE_MODE,
    FOLDER_MODE,
    LOOPBACK,
    PROJECT_DIR,
    PURE_FTPD_IDLE_TIMEOUT,
    PURE_FTPD_MAX_SESSIONS_PER_IP,
    REMOTE_PHOTO_DIR,
    EmbeddedState,
    embedded_hostgator_settings,
    embedded_ports,
    hostgator_settings,
    prepare_photo_folder,
)

logger = logging.getLogger(__name__)


class _QuietFileHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".webp": "image/webp", ".avif": "image/avif",
                      ".svg": "image/svg+xml"}
    timeout = 10  # a client that stalls mid-request cannot hold the server's shutdown forever

    def end_headers(self):
        # What the guard's `Header set` makes Apache send for the photo folder (check_hostgator checks it).
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format, *args):
        pass


class PublicFolderServer:
    """Serves a folder over HTTP on loopback, as Apache serves ``public_html`` on the real host."""

    def __init__(self, directory: Path, port=0, host=LOOPBACK):
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self._server = None
        self._thread = None

    @property
    def running(self):
        return self._server is not None

    def start(self):
        if self._server is not None:
            return
        handler = partial(_QuietFileHandler, directory=str(self.directory))
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self.port = self._server.server_address[1]  # the same port again after a stop
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"http-{self.port}", daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = self._thread = None


# --- Pure-FTPd's half ------------------------------------------------------------------------------------

@cache
def _pure_ftpd_classes():
    # pyftpdlib (and pyOpenSSL) are imported on first use only.
    from pyftpdlib import filesystems, servers

    class PureFTPdFilesystem(filesystems.AbstractedFS):
        """New files 644 and folders 755 whatever this process's umask is (002 on many desktops would
        otherwise give 664, which the real host never does)."""

        def open(self, filename, mode):
            is_new = any(flag in mode for flag in "wa") and not os.path.exists(filename)
            file = super().open(filename, mode)
            if is_new:
                os.fchmod(file.fileno(), FILE_MODE)
            return file

        def mkdir(self, path):
            super().mkdir(path)
            os.chmod(path, FOLDER_MODE)

    class PureFTPdManners:
        """Pure-FTPd's replies where pyftpdlib's differ."""

        def handle_max_cons_per_ip(self):
            self.respond(f"421 Too many connections ({self.server.max_cons_per_ip}) from this IP")
            self.close_when_done()

        def handle_timeout(self):
            if getattr(self, "_ssl_accepting", False):
                self.close()  # no TLS yet: nothing can be said
                return
            self.respond("421 Timeout - try typing a little faster next time")
            self.close_when_done()

    class SessionThreadsServer(servers.ThreadedFTPServer):
        """One thread per session (a slow session never stalls the others), stoppable on its own."""

        poll_timeout = 0.05  # how soon session threads notice a stop

        def __init__(self, *args, **kwargs):
            # pyftpdlib keeps these as class attributes: stopping one server would end every other
            # server's sessions in the process (tests run several).
            self._exit = threading.Event()
            self._lock = threading.Lock()
            super().__init__(*args, **kwargs)

    return PureFTPdFilesystem, PureFTPdManners, SessionThreadsServer


class EmbeddedHostGator:
    """HostGator on loopback: an FTP(S) server for one user whose home is ``ftp_root`` (like a cPanel FTP
    account whose home holds ``public_html``), and an HTTP server of ``ftp_root/public_html``.

    Ports 0 pick free ones; ``ftp_port``/``http_port`` tell the real ones once started. ``stop()`` takes
    the FTP service down (listener and every open session closed; Apache keeps serving, as when
    Pure-FTPd alone fails); ``start()`` brings it back on the same port. ``close()`` stops both.
    With ``certfile`` None the server speaks plain FTP (tests of HOSTGATOR_FTP_TLS=off).

    Subclasses add behaviour through ``handler_mixins``/``data_handler_mixins`` (pyftpdlib handler
    classes; each handler sees this object as ``self.hostgator``).
    """

    handler_mixins = ()
    data_handler_mixins = ()

    def __init__(self, ftp_root: Path, password: str, *, user=EMBEDDED_USER, certfile=None, keyfile=None,
                 ftp_port=0, http_port=0, host=LOOPBACK, max_sessions_per_ip=PURE_FTPD_MAX_SESSIONS_PER_IP,
                 idle_timeout=PURE_FTPD_IDLE_TIMEOUT):
        self.ftp_root = Path(ftp_root)
        self.photo_folder = self.ftp_root / REMOTE_PHOTO_DIR.strip("/")
        self.user = user
        self.password = password
        self.certfile = certfile
        self.keyfile = keyfile or certfile
        self.host = host
        self.ftp_port = ftp_port
        self._max_sessions_per_ip = max_sessions_per_ip
        self._http = PublicFolderServer(self.ftp_root / "public_html", port=http_port, host=host)
        self._handler_class = None
        self._idle_timeout = idle_timeout
        self._ftp_server = None
        self._ftp_thread = None
        self._ftp_stopping = None

    @property
    def tls(self):
        return self.certfile is not None

    @property
    def http_port(self):
        return self._http.port

    @property
    def public_url(self):
        return self.settings["PUBLIC_URL"]

    @property
    def settings(self):
        """settings.HOSTGATOR_FTP pointing at this server (meaningful once started: real ports)."""
        return hostgator_settings(ftp_port=self.ftp_port, http_port=self.http_port, password=self.password,
                                  ca_file=self.certfile, tls=self.tls, user=self.user)

    @property
    def max_sessions_per_ip(self):
        """Sessions allowed at once from one IP; one more gets ``421 Too many connections (N) from this IP``."""
        return self._max_sessions_per_ip

    @max_sessions_per_ip.setter
    def max_sessions_per_ip(self, value):
        self._max_sessions_per_ip = value
        if self._ftp_server is not None:
            self._ftp_server.max_cons_per_ip = value

    @property
    def idle_timeout(self):
        """Seconds a session may stay silent before ``421 Timeout - try typing a little faster next time``
        and a close (applies to sessions opened afterwards)."""
        return self._idle_timeout

    @idle_timeout.setter
    def idle_timeout(self, seconds):
        self._idle_timeout = seconds
        if self._handler_class is not None:
            self._handler_class.timeout = seconds

    def start(self):
        self.photo_folder.mkdir(parents=True, exist_ok=True)
        try:
            self._http.start()
            if self._ftp_server is None:
                self._start_ftp()
        except Exception:
            self.close()  # a port was taken: leave no thread behind
            raise
        return self

    def stop(self):
        """Take the FTP service down: no listener, every session closed. HTTP keeps serving."""
        if self._ftp_server is None:
            return
        self._ftp_stopping.set()
        self._ftp_thread.join(timeout=15)
        if self._ftp_thread.is_alive():
            raise RuntimeError("the embedded FTP server did not stop within 15 s")
        self._ftp_server = self._ftp_thread = self._ftp_stopping = None

    def close(self):
        self.stop()
        self._http.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def _start_ftp(self):
        from pyftpdlib.ioloop import IOLoop

        pyftpdlib_logger = logging.getLogger("pyftpdlib")
        if not pyftpdlib_logger.handlers:
            # Else pyftpdlib configures logging itself (INFO, a line per command, process-wide tweaks).
            pyftpdlib_logger.addHandler(logging.NullHandler())
        if not pyftpdlib_logger.level:
            pyftpdlib_logger.setLevel(logging.WARNING)
        *_, SessionThreadsServer = _pure_ftpd_classes()
        if self._handler_class is None:
            self._handler_class = self._make_handler_class()
        # A loop of its own: pyftpdlib's default is one shared by every server in the process.
        server = SessionThreadsServer((self.host, self.ftp_port), self._handler_class, ioloop=IOLoop())
        server.max_cons_per_ip = self._max_sessions_per_ip
        self.ftp_port = server.address[1]  # kept, so start() after stop() binds the same port
        stopping = threading.Event()
        thread = threading.Thread(target=self._serve_ftp, args=(server, stopping), name=f"ftp-{self.ftp_port}",
                                  daemon=True)
        self._ftp_server, self._ftp_stopping, self._ftp_thread = server, stopping, thread
        thread.start()

    @staticmethod
    def _serve_ftp(server, stopping):
        try:
            while not stopping.is_set():
                server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        finally:
            server.close_all()  # closes the listener and ends every session thread

    def _make_handler_class(self):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler

        filesystem, manners, _server = _pure_ftpd_classes()
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.user, self.password, str(self.ftp_root), perm="elradfmwMT")
        base = TLS_FTPHandler if self.tls else FTPHandler
        attributes = {
            "authorizer": authorizer,
            "abstracted_fs": filesystem,
            "banner": "cmtch embedded HostGator (pyftpdlib standing in for Pure-FTPd) ready.",
            "timeout": self._idle_timeout,
            "masquerade_address": None,
            "passive_ports": None,
            "permit_foreign_addresses": False,
            "hostgator": self,
            "dtp_handler": type("DataHandler", (*self.data_handler_mixins, base.dtp_handler), {}),
        }
        if self.tls:
            attributes.update(tls_control_required=True, tls_data_required=True, ssl_context=self._ssl_context())
        return type("HostGatorFTPHandler", (*self.handler_mixins, manners, base), attributes)

    def _ssl_context(self):
        from OpenSSL import SSL

        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.set_options(SSL.OP_NO_COMPRESSION)
        context.use_certificate_chain_file(str(self.certfile))
        context.use_privatekey_file(str(self.keyfile))
        return context


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the embedded HostGator (FTPS + HTTP on loopback).")
    parser.add_argument("--state-dir", type=Path,
                        default=Path(os.environ.get("EMBEDDED_HOSTGATOR_DIR", PROJECT_DIR / ".embedded")),
                        help="password, certificate and FTP home (default: $EMBEDDED_HOSTGATOR_DIR, as in settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)  # one line per session otherwise

    config = embedded_hostgator_settings(args.state_dir)
    state = EmbeddedState(args.state_dir)
    prepare_photo_folder(state.photo_folder)
    ftp_port, http_port = embedded_ports()
    server = EmbeddedHostGator(state.ftp_root, config["PASSWORD"], certfile=state.cert_file,
                               keyfile=state.key_file, ftp_port=ftp_port, http_port=http_port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    ready_file = args.state_dir / "ready"
    ready_file.unlink(missing_ok=True)
    try:
        server.start()
    except OSError as error:
        logger.error("embedded HostGator cannot listen on 127.0.0.1 ports %d (FTP) and %d (HTTP): %s. "
                     "Free them, or choose others: EMBEDDED_FTP_PORT=2122 EMBEDDED_HTTP_PORT=8022 bin/dev",
                     ftp_port, http_port, error.strerror or error)
        return 1
    ready_file.write_text(f"{os.getpid()}\n")  # bin/dev waits for this before starting the site
    logger.info("embedded HostGator: FTPS (explicit TLS) on %s:%d user %s (password in %s), photos served at %s",
                server.host, server.ftp_port, server.user, state.password_file, server.public_url)
    try:
        while not stopping.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ready_file.unlink(missing_ok=True)
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
