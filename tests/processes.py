"""Daemons the suite runs in a process group of their own (vsftpd, Apache), and how to end them."""

import os
import signal
import subprocess
import time


def end_process_group(process, grace=5.0):
    """SIGTERM the whole group, SIGKILL if it lingers; returns once the leader and every child are
    gone (or both waits ran out)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if group_is_gone(process.pid, deadline=time.monotonic() + grace):
            return


def group_is_gone(group, deadline):
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def require(available, variable, missing):
    """Skip the test when a server it needs is not installed here, but fail it where ``variable``
    is set (CI sets CMTCH_REQUIRE_*: there a missing server is a broken install, not a skip)."""
    import pytest

    if available:
        return
    if os.environ.get(variable):
        pytest.fail(f"{missing}, and {variable} says it is required here")
    pytest.skip(missing)
