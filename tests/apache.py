"""A real Apache 2.4 + mod_php on loopback, set up the way cPanel shared hosts (HostGator) serve
``public_html``: the test of the photo folder's .htaccess guard (tests/test_htaccess_guard.py) runs on it.

- ``Apache(php=...)``: Debian's ``/usr/sbin/apache2`` in the foreground (``-DFOREGROUND``, prefork +
  mod_php, its own process group), with a self-contained configuration in a fresh folder under /tmp
  (never /etc/apache2, apache2ctl or systemd): ``Listen 127.0.0.1:<free port>``, ``AllowOverride All``,
  ``Options FollowSymLinks Indexes`` (cPanel's default lists folders without an index) and mod_headers.
  No ``<FilesMatch "^\\.ht">`` denial either: the guard must stand on its own.
- ``php`` says how PHP is wired, the set-ups met on shared hosts (``PHP_SETUPS``):
  ``"sethandler"``: ``<FilesMatch "\\.(phtml|php[0-9]*)$"> SetHandler application/x-httpd-php`` in the
  server config (cPanel's PHP-FPM vhosts);
  ``"addhandler"``: ``AddHandler application/x-httpd-php .php`` in the server config (``x.php.jpg`` runs);
  ``"multiphp"``: cPanel's MultiPHP lines, ``AddHandler ... .php .php7 .php8 .phtml`` in
  ``public_html/.htaccess`` (``x.php.jpg`` runs too);
  ``"addtype"``: ``AddType application/x-httpd-php .php`` (the type doubles as the handler).
- ``allow_override`` (default ``"All"``, cPanel's): what ``public_html`` lets an .htaccess do, e.g. ``"None"``
  (the guard is ignored) or ``"FileInfo"`` (a guard line of another override answers 500);
  ``without_modules``: names from ``MODULES`` not loaded (e.g. ``"headers_module"``: no ``Header`` lines).
- ``put(path, content)`` writes a file under ``public_html`` readable by Apache's user;
  ``get(path)`` fetches it (no proxy, no redirects followed) as ``Response(status, headers, body)``;
  ``error_log()``; ``stop()`` ends the whole process group and removes the folder.

Run as root (CI), Apache switches to ``www-data`` for requests, which is why everything lives in a
folder under /tmp made traversable (pytest's own tmp folders are private to root).
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import namedtuple
from pathlib import Path

from storage.embedded_state import LOOPBACK
from tests.processes import end_process_group

APACHE = Path("/usr/sbin/apache2")
MODULES_DIR = Path("/usr/lib/apache2/modules")
MIME_TYPES = Path("/etc/mime.types")
START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 5.0

# mpm_prefork: mod_php is not thread-safe; authz_core/authz_host: Require; mime: types and AddHandler;
# dir: DirectoryIndex; autoindex: folder listings (cPanel has it); headers: the guard's Header lines;
# alias and rewrite: present on every cPanel host, loaded so that a guard relying on them would be seen.
MODULES = {
    "mpm_prefork_module": "mod_mpm_prefork.so",
    "authz_core_module": "mod_authz_core.so",
    "authz_host_module": "mod_authz_host.so",
    "access_compat_module": "mod_access_compat.so",
    "mime_module": "mod_mime.so",
    "dir_module": "mod_dir.so",
    "autoindex_module": "mod_autoindex.so",
    "headers_module": "mod_headers.so",
    "alias_module": "mod_alias.so",
    "rewrite_module": "mod_rewrite.so",
}

PHP_SETUPS = {
    # cPanel's PHP-FPM vhosts (there with SetHandler "proxy:unix:...|fcgi://..."): case-sensitive.
    "sethandler": '<FilesMatch "\\.(phtml|php[0-9]*)$">\n    SetHandler application/x-httpd-php\n</FilesMatch>\n',
    "addhandler": "AddHandler application/x-httpd-php .php\n",
    "multiphp": "",  # in public_html/.htaccess, see MULTIPHP_HTACCESS
    # Older set-ups and many tutorials: the type doubles as the handler name (mod_php takes both).
    "addtype": "AddType application/x-httpd-php .php\n",
}
# What cPanel hosts that restrict .htaccess commonly allow (``allow_override``): no Options override, or only
# some options. The guard's first versions began with OLD_GUARD_OPTIONS, which both refuse with a 500.
RESTRICTED_OVERRIDES = ["AuthConfig FileInfo Indexes Limit",
                        "AuthConfig FileInfo Indexes Limit Options=Indexes,Includes,IncludesNOEXEC,MultiViews,"
                        "SymLinksIfOwnerMatch"]
OLD_GUARD_OPTIONS = "Options -ExecCGI -Indexes -Includes\n"
# What cPanel's MultiPHP Manager writes at the top of public_html/.htaccess (ea-phpNN with PHP-FPM/CGI;
# the handler name of Debian's mod_php here, the mapping by extension is the same).
MULTIPHP_HTACCESS = (
    "# php -- BEGIN cPanel-generated handler, do not edit\n"
    "<IfModule mime_module>\n"
    "  AddHandler application/x-httpd-php .php .php7 .php8 .phtml\n"
    "</IfModule>\n"
    "# php -- END cPanel-generated handler, do not edit\n"
)

Response = namedtuple("Response", "status headers body")


def php_module():
    """The path of Debian's mod_php (libphpX.Y.so), or None."""
    candidates = sorted(MODULES_DIR.glob("libphp*.so"))
    return candidates[-1] if candidates else None


def apache_available():
    return APACHE.exists() and php_module() is not None and all(
        (MODULES_DIR / name).exists() for name in MODULES.values())


def _free_port():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 301/302 comes back as the response itself


class Apache:
    def __init__(self, php="sethandler", allow_override="All", without_modules=(), mime_types=MIME_TYPES):
        if php not in PHP_SETUPS:
            raise ValueError(f"php must be one of {sorted(PHP_SETUPS)}")
        if not set(without_modules) <= set(MODULES):
            raise ValueError(f"without_modules must be among {sorted(MODULES)}")
        self.php = php
        self.allow_override = allow_override
        self.mime_types = mime_types  # an older host's list of types: a file without the newer ones
        self.modules = {name: so for name, so in MODULES.items() if name not in without_modules}
        self.port = None
        self.startup_seconds = None
        self._process = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
        self._user = self._run_as()
        self.base_dir = Path(tempfile.mkdtemp(prefix="cmtch-apache-", dir="/tmp"))
        self.base_dir.chmod(0o755)
        self.docroot = self.base_dir / "public_html"
        self.run_dir = self.base_dir / "run"
        self.config_file = self.base_dir / "apache2.conf"
        self.error_log_file = self.base_dir / "error.log"
        self.output_file = self.base_dir / "apache2.out"

    # --- life cycle -------------------------------------------------------------------------------

    def start(self, attempts=3):
        self.docroot.mkdir(mode=0o755, exist_ok=True)
        self.run_dir.mkdir(mode=0o755, exist_ok=True)
        if self.php == "multiphp":
            self.put(".htaccess", MULTIPHP_HTACCESS)
        for _attempt in range(attempts):  # the free port may be taken between probing and Apache's bind
            self.port = _free_port()
            self.config_file.write_text(self._config())
            began = time.monotonic()
            with open(self.output_file, "wb") as output:
                # Its own session: stop() ends the parent and its prefork children together.
                self._process = subprocess.Popen([str(APACHE), "-f", str(self.config_file), "-DFOREGROUND"],
                                                 stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                                 start_new_session=True, env=self._environment())
            if self._wait_until_answering(deadline=began + START_TIMEOUT):
                self.startup_seconds = time.monotonic() - began
                return self
            code = self._process.poll()
            self._end_process()
            if "Address already in use" not in self._startup_errors():
                break
        what = f"exited with code {code}" if code is not None else f"did not answer within {START_TIMEOUT:.0f} s"
        errors = self._startup_errors()
        self.stop()
        raise RuntimeError(f"Apache ({self.php}) on {LOOPBACK}:{self.port} {what}:\n{errors}")

    def stop(self):
        try:
            self._end_process()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _end_process(self):
        if self._process is not None:
            end_process_group(self._process, grace=10)
            self._process = None

    def _wait_until_answering(self, deadline):
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as probe:
                    probe.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                    if probe.recv(16).startswith(b"HTTP/"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _startup_errors(self):
        parts = []
        for path in (self.output_file, self.error_log_file):
            if path.exists() and path.read_text(errors="replace").strip():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace').strip()}")
        return "\n".join(parts) or "no output"

    # --- files and requests -----------------------------------------------------------------------

    def put(self, path, content):
        """Write ``content`` (bytes or str) at ``path`` under public_html: file 644, folders 755, as an FTP
        upload to cPanel leaves them."""
        target = self.docroot / path
        for folder in reversed(target.relative_to(self.docroot).parents):
            (self.docroot / folder).mkdir(mode=0o755, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        target.chmod(0o644)
        return target

    def url(self, path):
        return f"http://{LOOPBACK}:{self.port}/{path.lstrip('/')}"

    def get(self, path):
        """GET ``path`` (relative to the site root, already URL-quoted) -> Response; errors are responses."""
        try:
            with self._opener.open(self.url(path), timeout=REQUEST_TIMEOUT) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:
            with answer:
                return Response(answer.code, answer.headers, answer.read())

    def error_log(self):
        return self.error_log_file.read_text(errors="replace") if self.error_log_file.exists() else ""

    # --- configuration ----------------------------------------------------------------------------

    @staticmethod
    def _run_as():
        """(user, group) for Apache's children: www-data when started as root; ignored otherwise."""
        if os.geteuid() != 0:
            return None
        for user in ("www-data", "nobody"):
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                continue
            return user, f"#{entry.pw_gid}"
        raise RuntimeError("no www-data or nobody user for Apache's children")

    @staticmethod
    def _environment():
        # No proxy or locale surprises from the caller; Apache itself needs no environment.
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}

    def _config(self):
        loads = "".join(f"LoadModule {name} {MODULES_DIR / so}\n" for name, so in self.modules.items())
        loads += f"LoadModule php_module {php_module()}\n"
        user = f"User {self._user[0]}\nGroup {self._user[1]}\n" if self._user else ""
        return f"""# cmtch test Apache: cPanel-like public_html, {self.php} PHP, AllowOverride {self.allow_override}
ServerRoot "{self.base_dir}"
DefaultRuntimeDir "{self.run_dir}"
PidFile "{self.run_dir}/apache2.pid"
Mutex file:{self.run_dir} default
ErrorLog "{self.error_log_file}"
LogLevel warn
{loads}
{user}Listen {LOOPBACK}:{self.port}
ServerName {LOOPBACK}
ServerTokens Prod
HostnameLookups Off
Timeout 10
KeepAlive Off
StartServers 2
MinSpareServers 1
MaxSpareServers 3
MaxRequestWorkers 8

TypesConfig {self.mime_types}
AddDefaultCharset Off
DirectoryIndex index.html index.htm index.php
AccessFileName .htaccess

<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
</Directory>

DocumentRoot "{self.docroot}"
<Directory "{self.docroot}">
    Options FollowSymLinks Indexes
    AllowOverride {self.allow_override}
    Require all granted
</Directory>

{PHP_SETUPS[self.php]}"""
