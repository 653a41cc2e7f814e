"""check_hostgator's look at the FTP account itself: can it write outside the photo folder?

The site needs the photo folder only. An account whose home is the whole hosting (the cPanel main
account, or an FTP account on public_html) lets a leaked password put a script anywhere in
public_html, where no guard stands. README.md says how to make an account confined to the folder.
The probe is a harmless text file, stored in the folder just above the photo folder and deleted at
once.
"""

import posixpath
import secrets

from storage.errors import StoreRefused
from storage.health.photo_chain import PROBE_PREFIX
from storage.health.remote import store_once
from storage.health.report import FAILED, OK, WARNING, reason

LABEL = "FTP confinement"
ADVICE = "use a cPanel FTP account confined to the photo folder (README.md, « A confined FTP account »)"


def check_confinement(storage, connection, out):
    folder = storage.remote_dir.rstrip("/") or "/"
    if folder == "/":
        out.add(LABEL, OK, "the account's home is the photo folder (HOSTGATOR_FTP_DIR=/)")
        return
    parent = posixpath.dirname(folder)  # '' for a folder relative to the home: the home itself
    probe = posixpath.join(parent, f"{PROBE_PREFIX}confinement-{secrets.token_hex(6)}.txt")
    where = parent or "the account's home"
    try:
        store_once(connection, probe, b"cmtch check_hostgator: may this FTP account write outside the photo folder?\n")
    except StoreRefused as refused:
        out.add(LABEL, OK, f"the account cannot write in {where} ({refused.reply or reason(refused)})")
        return
    except Exception as error:  # noqa: BLE001 -- a ✗ line, not a traceback
        out.add(LABEL, FAILED, f"cannot tell ({reason(error)})")
        delete_quietly(connection, probe)
        return
    try:
        connection.delete(probe)
    except Exception as error:  # noqa: BLE001
        out.add(LABEL, FAILED, f"the account can write in {where}, and the probe {probe} could not be deleted "
                               f"({reason(error)}): delete it in cPanel's File Manager; {ADVICE}")
        return
    out.add(LABEL, WARNING, f"the account can write outside the photo folder (a file was accepted in {where}): "
                            f"{ADVICE}")


def delete_quietly(connection, path):
    try:
        connection.delete(path)
    except Exception:  # noqa: BLE001, S110 -- best effort after a failure already reported
        pass
