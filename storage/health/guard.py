"""check_hostgator's proof of the photo folder's .htaccess guard (storage/photo_folder.htaccess).

Equal bytes on the host prove little: Apache ignores an .htaccess where the host says
``AllowOverride None``, and answers 500 for every file of the folder where the guard uses a
directive the host forbids. So the guard is proven by its effect, over the public URL:

- a probe photo is stored and fetched: it must come back whole (else nothing below can be judged;
  an HTTP 500 there is the forbidden-directive case, reported with its fix) and with
  ``X-Content-Type-Options: nosniff``;
- harmless probe scripts are stored under the names PHP runs (``.php``, ``.php.jpg`` behind
  AddHandler, ``.phtml``, ``.php7``) straight through FTP (the storage refuses such names) and
  fetched: each must be refused or served inert. A probe prints a marker only PHP can compute (the
  MD5 of a random token, which the source does not hold), so its presence proves execution.

Every probe is deleted whatever happens; one left by a killed run carries the probe prefix and is
cleaned up with the other leftovers.
"""

import hashlib
import io
import posixpath
import secrets

from storage.errors import StoreFull
from storage.ftp.replies import translate
from storage.health.http import get
from storage.health.photo_chain import PROBE_PREFIX, probe_jpeg
from storage.health.remote import read_remote_file, store_once
from storage.health.report import FAILED, NOT_CHECKED, OK, WARNING, reason
from storage.shipped import GUARD_NAME

SCRIPT_SUFFIXES = (".php", ".php.jpg", ".phtml", ".php7")
IN_PLACE, MISSING, DIFFERS = "in place", "missing", "differs"
ASK_FOR_OVERRIDES = "ask HostGator support to allow « AllowOverride AuthConfig FileInfo » (or All) for public_html"


def check_guard(storage, connection, out, fix, guard_file):
    """The guard's bytes on the host; returns IN_PLACE, MISSING, DIFFERS, or None if unreadable."""
    label = ".htaccess guard"
    path = posixpath.join(storage.remote_dir, GUARD_NAME)
    wanted = guard_file.read_bytes()
    try:
        current = read_remote_file(connection, path)
        if current != wanted and fix:
            if current is not None:  # somebody's own rules: kept beside it, not lost
                connection.upload_atomically(f"{path}.before-cmtch", io.BytesIO(current), overwrite=True)
            connection.upload_atomically(path, io.BytesIO(wanted), overwrite=True)
            installed = read_remote_file(connection, path) == wanted
            out.add(label, *((OK, "installed (--fix)") if installed else (FAILED, "could not be installed")))
            return IN_PLACE if installed else DIFFERS
    except Exception as error:  # noqa: BLE001 -- a ✗ line, not a traceback
        out.add(label, FAILED, reason(translate(error, "guard", path)))
        return None
    if current is None:
        out.add(label, FAILED, "missing: Apache could run a script put in the folder (--fix installs it)")
        return MISSING
    if current != wanted:
        out.add(label, FAILED, f"differs from {guard_file.name} (--fix replaces it, keeping the old one as "
                               f"{GUARD_NAME}.before-cmtch)")
        return DIFFERS
    out.add(label, OK, "in place")
    return IN_PLACE


def probe_script(token):
    """(PHP source, the marker its execution prints): the marker holds md5(token), which the
    source does not."""
    marker = f"cmtch-guard-{6 * 7}-{hashlib.md5(token.encode()).hexdigest()}"  # noqa: S324 -- not security
    return f'<?php echo "cmtch-guard-" . (6*7) . "-" . md5("{token}"); ?>\n'.encode(), marker.encode()


class Probes:
    """The probe files of one run, each deleted by ``delete_all`` whether or not it was stored."""

    def __init__(self, storage, connection):
        self.storage, self.connection = storage, connection
        self.token = secrets.token_hex(8)
        self.attempted = []

    def store(self, suffix, data):
        """The probe's name, stored; raises StoreError if the server refused it."""
        name = f"{PROBE_PREFIX}guard-{self.token}{suffix}"
        path = posixpath.join(self.storage.remote_dir, name)
        self.attempted.append(path)  # a refusal may come after part of the data
        store_once(self.connection, path, data)
        return name

    def delete_all(self):
        """'' or what could not be deleted, and why."""
        failed = []
        for path in self.attempted:
            try:
                self.connection.delete(path)
            except Exception as error:  # noqa: BLE001
                failed.append(f"{posixpath.basename(path)} ({reason(translate(error, 'DELE', path))})")
        return f"could not delete {', '.join(failed)}: delete it in cPanel's File Manager" if failed else ""


def check_guard_effect(storage, connection, out, guard_state):
    """The lines « guard effect » and « nosniff »."""
    probes = Probes(storage, connection)
    try:
        (status, detail), nosniff = judge_guard(storage, connection, probes, guard_state)
    finally:
        undeleted = probes.delete_all()
    if undeleted:
        status, detail = FAILED, f"{detail}; {undeleted}"
    out.add("guard effect", status, detail)
    out.add("nosniff", *nosniff)


def judge_guard(storage, connection, probes, guard_state):
    """((status, detail) of « guard effect », (status, detail) of « nosniff »)."""
    timeout = connection.config.timeout
    photo = probe_jpeg()
    try:
        photo_url = storage.url(probes.store(".jpg", photo))
    except Exception as error:  # noqa: BLE001
        return (FAILED, f"the probe photo could not be stored: {reason(error)}"), \
            (NOT_CHECKED, "not checked (no probe photo)")
    try:
        answer = get(photo_url, timeout)
    except (OSError, ValueError) as error:
        return (NOT_CHECKED, f"not checked (cannot fetch {photo_url}: {getattr(error, 'reason', None) or error})"), \
            (NOT_CHECKED, "not checked (the public URL does not answer)")
    if answer.status >= 500:
        return (FAILED, every_photo_fails(answer.status, guard_state)), \
            (NOT_CHECKED, f"not checked (photos answer HTTP {answer.status})")
    if answer.status != 200 or answer.body != photo:
        return (NOT_CHECKED, f"not checked ({photo_url} answered HTTP {answer.status}, not the probe photo)"), \
            (NOT_CHECKED, "not checked (the public URL does not serve the folder)")
    verdict, guard_applied = judge_scripts(storage, probes, timeout, guard_state)
    return verdict, nosniff(answer, guard_state, guard_applied)


def every_photo_fails(status, guard_state):
    if guard_state == IN_PLACE:
        return (f"every photo answers HTTP {status} under the guard: the host forbids one of its directives "
                f"(Apache's error log, cPanel → Errors, names it: « <directive> not allowed … »): {ASK_FOR_OVERRIDES}; "
                f"removing the guard brings the photos back but lets scripts run")
    if guard_state == DIFFERS:
        return (f"every photo answers HTTP {status}: the folder's .htaccess is not the current guard (older "
                f"ones needed the Options override, which many hosts forbid): --fix installs the current one")
    return f"every photo answers HTTP {status} (see Apache's error log, cPanel → Errors)"


def nosniff(answer, guard_state, guard_applied):
    """``guard_applied``: the probe scripts were refused, so Apache reads the guard."""
    if "nosniff" in (answer.headers.get("X-Content-Type-Options") or "").lower():
        return OK, "photos are served with X-Content-Type-Options: nosniff"
    if guard_state in {MISSING, DIFFERS}:
        why = "the guard is not installed (--fix installs it)"
    elif guard_applied:  # its Header lines sit in <IfModule mod_headers.c>
        why = "Apache applies the guard but has no mod_headers: ask HostGator support to enable it"
    else:
        why = f"Apache ignores the guard (AllowOverride None): {ASK_FOR_OVERRIDES}"
    return WARNING, f"photos are served without X-Content-Type-Options: nosniff: {why}"


def judge_scripts(storage, probes, timeout, guard_state):
    """((status, detail) of « guard effect », whether any probe script was refused)."""
    ran, refused, inert, unproven, not_stored = [], [], [], [], []
    for suffix in SCRIPT_SUFFIXES:
        source, marker = probe_script(probes.token)
        try:
            url = storage.url(probes.store(suffix, source))
        except StoreFull as error:  # the host refuses every file now, not script names
            return (FAILED, f"not proven: {reason(error)}"), False
        except Exception as error:  # noqa: BLE001 -- e.g. a host that refuses .php uploads
            not_stored.append(f"{suffix} ({reason(error)})")
            continue
        try:
            answer = get(url, timeout)
        except (OSError, ValueError) as error:
            unproven.append(f"{suffix} (cannot fetch it: {getattr(error, 'reason', None) or error})")
            continue
        if marker in answer.body:
            ran.append((suffix, url))
        elif answer.status == 200:
            inert.append(suffix)
        elif 400 <= answer.status < 500:
            refused.append(suffix)
        else:  # a 500 from the script itself: PHP may have run and failed
            unproven.append(f"{suffix} (HTTP {answer.status})")
    return scripts_verdict(ran, refused, inert, unproven, not_stored, guard_state), bool(refused)


def scripts_verdict(ran, refused, inert, unproven, not_stored, guard_state):
    if ran:
        fix = (f"Apache ignores the guard (AllowOverride None): {ASK_FOR_OVERRIDES}" if guard_state == IN_PLACE
               else "the guard is not in place: --fix installs it")
        return FAILED, (f"PHP runs in the photo folder: the probe ran as {' '.join(suffix for suffix, _ in ran)} "
                        f"({ran[0][1]}); {fix}")
    if unproven:
        return FAILED, f"not proven inert: {', '.join(unproven)}"
    if not refused and not inert:
        return WARNING, f"not proven: the FTP server refused every probe script: {', '.join(not_stored)}"
    parts = []
    if refused:
        parts.append(f"{' '.join(refused)} refused")
    if inert:
        ignored = " (this server ignores the guard's refusals)" if guard_state == IN_PLACE else ""
        parts.append(f"{' '.join(inert)} served as plain files, not run{ignored}")
    if not_stored:
        parts.append(f"the FTP server refused {', '.join(not_stored)}")
    return OK, f"no probe script ran: {'; '.join(parts)}"
