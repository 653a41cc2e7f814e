"""HostGatorStorage when the host misbehaves. Every fault is made by the server (tests/ftp_servers.py):
dropped connections, 4xx/5xx replies, silence, idle closes, a per-IP connection cap. After each: no
partial file at a public name and a clear exception type."""

import threading
import time

import pytest
from django.core.files.base import ContentFile

from storage.backends import HostGatorStorage
from storage.errors import (
    StoreBusy,
    StoreError,
    StoreRefused,
    StoreTimeout,
    StoreUnavailable,
    TransferDeadlineExceeded,
)
from storage.names import is_temporary

PHOTO = bytes(range(256)) * 400  # 100 KB, several chunks


def files_on_disk(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
                  and not path.name.startswith("default_article"))


def temporaries(root):
    return [name for name in files_on_disk(root) if is_temporary(name)]


@pytest.fixture
def storage(hostgator):
    storage = HostGatorStorage()
    storage.save("warm-up.jpg", ContentFile(b"warm"))  # folders known, connection open
    hostgator.forget_commands()
    yield storage
    storage.disconnect()


def test_connection_killed_mid_upload_is_retried_and_leaves_nothing_behind(storage, hostgator):
    hostgator.faults.drop_upload(after_bytes=30_000)
    name = storage.save("match.jpg", ContentFile(PHOTO))
    assert (hostgator.root / name).read_bytes() == PHOTO
    assert hostgator.faults.pending == 0
    assert temporaries(hostgator.root) == []  # the half file was deleted through the next connection


def test_connection_killed_every_time_fails_cleanly(storage, hostgator):
    hostgator.faults.drop_upload(after_bytes=10_000, times=4)
    with pytest.raises(StoreUnavailable):
        storage.save("match.jpg", ContentFile(PHOTO))
    assert not (hostgator.root / "match.jpg").exists()
    storage.save("next.jpg", ContentFile(b"next"))  # the host answers again: leftovers are cleared
    assert temporaries(hostgator.root) == []


@pytest.mark.parametrize("reply", ["421 Too many connections (8) from this IP", "450 File busy",
                                   "451 Local error in processing"])
def test_transient_replies_are_retried(storage, hostgator, reply):
    hostgator.faults.reply("STOR", reply, times=2)
    name = storage.save("match.jpg", ContentFile(PHOTO))
    assert (hostgator.root / name).read_bytes() == PHOTO
    assert hostgator.verbs().count("STOR") == 3


def test_transient_replies_that_never_stop_end_in_a_clear_error(storage, hostgator):
    hostgator.faults.reply("STOR", "450 File busy", times=None)
    with pytest.raises(StoreBusy) as failed:
        storage.save("match.jpg", ContentFile(PHOTO))
    assert "450" in str(failed.value) and "match.jpg" in str(failed.value)
    assert hostgator.verbs().count("STOR") == 4  # bounded
    assert files_on_disk(hostgator.root) == ["warm-up.jpg"]


@pytest.mark.parametrize("verb,reply", [("STOR", "550 Permission denied"), ("STOR", "553 Can't open that file"),
                                        ("RNTO", "553 Rename/move failure")])
def test_permanent_refusals_are_not_retried(storage, hostgator, verb, reply):
    hostgator.faults.reply(verb, reply, times=None)
    with pytest.raises(StoreRefused) as refused:
        storage.save("match.jpg", ContentFile(PHOTO))
    assert reply[:3] in str(refused.value)
    assert hostgator.verbs().count(verb) == 1
    assert files_on_disk(hostgator.root) == ["warm-up.jpg"]  # temporary file deleted too


def test_a_short_file_on_the_server_is_caught_before_it_goes_public(storage, hostgator):
    # The size check is MLST here (SIZE on servers without it): the server claims 17 bytes.
    hostgator.faults.reply("MLST", "250-Listing\r\n type=file;size=17;UNIX.mode=0644; x\r\n250 End",
                           times=1, argument_contains="cmtch-tmp-")
    name = storage.save("match.jpg", ContentFile(PHOTO))
    assert (hostgator.root / name).read_bytes() == PHOTO
    assert hostgator.verbs().count("STOR") == 2
    assert temporaries(hostgator.root) == []


@pytest.mark.parametrize("fixture", ["black_hole", "black_hole_after_greeting"])
def test_a_silent_host_fails_within_the_timeout(request, settings, fixture):
    silent = request.getfixturevalue(fixture)
    settings.HOSTGATOR_FTP = silent.settings(timeout=1.0)
    storage = HostGatorStorage()
    started = time.monotonic()
    with pytest.raises(StoreTimeout):
        storage.save("match.jpg", ContentFile(PHOTO))
    assert time.monotonic() - started < 1.0 + 1.0


def test_a_stopped_host_is_reported_as_unavailable(storage, hostgator):
    hostgator.stop()
    with pytest.raises(StoreUnavailable) as failed:
        storage.save("match.jpg", ContentFile(PHOTO))
    assert not isinstance(failed.value, StoreTimeout)
    hostgator.start()
    assert storage.exists(storage.save("match.jpg", ContentFile(PHOTO)))


def test_an_idle_connection_closed_by_the_server_is_replaced_transparently(hostgator):
    hostgator.idle_timeout = 0.5
    storage = HostGatorStorage()
    storage.save("before-idle.jpg", ContentFile(PHOTO))
    time.sleep(1.5)  # the server said "421 Timeout" and hung up
    name = storage.save("after-idle.jpg", ContentFile(PHOTO))
    assert (hostgator.root / name).read_bytes() == PHOTO
    assert storage.pool.connections_opened == 2
    storage.disconnect()


def test_idle_close_noticed_only_when_the_command_is_sent_is_retried(storage, hostgator):
    # The server closes between our check and our command: the 421 arrives as the reply.
    hostgator.faults.reply("PASV", "421 Timeout - try typing a little faster next time", times=1)
    hostgator.faults.reply("EPSV", "421 Timeout - try typing a little faster next time", times=1)
    name = storage.save("match.jpg", ContentFile(PHOTO))
    assert (hostgator.root / name).read_bytes() == PHOTO


def test_per_ip_connection_cap_makes_the_pool_wait_not_fail(hostgator, settings):
    hostgator.max_sessions_per_ip = 2
    settings.HOSTGATOR_FTP = {**hostgator.settings, "MAX_CONNECTIONS": 4}
    storage = HostGatorStorage()
    saved, errors = [], []

    def work(thread):
        try:
            for index in range(4):
                saved.append(storage.save(f"t{thread}-{index}.jpg", ContentFile(PHOTO)))
        except Exception as error:  # asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(saved) == 32 and all((hostgator.root / name).read_bytes() == PHOTO for name in saved)
    assert storage.pool.limit <= 2
    storage.disconnect()


def test_a_server_that_refuses_dot_files_gets_visible_temporary_names(hostgator):
    # Pure-FTPd with ProhibitDotFilesWrite answers 550 to any name starting with a dot.
    hostgator.faults.reply("STOR", "550 Prohibited file name", times=None, argument_contains="/.")
    storage = HostGatorStorage()
    for index in range(3):
        name = storage.save(f"2026/11/photo-{index}.jpg", ContentFile(PHOTO))
        assert (hostgator.root / name).read_bytes() == PHOTO
    stored = [command.argument for command in hostgator.commands if command.verb == "STOR"]
    assert sum("/cmtch-tmp-" in argument for argument in stored) == 3  # learnt once, then used directly
    assert temporaries(hostgator.root) == []
    assert storage.listdir("2026/11") == ([], ["photo-0.jpg", "photo-1.jpg", "photo-2.jpg"])
    storage.disconnect()


def test_a_stall_at_the_greeting_ends_at_the_deadline_not_the_longer_reply_timeout(black_hole_after_greeting, settings):
    settings.HOSTGATOR_FTP = {**black_hole_after_greeting.settings(timeout=30), "TRANSFER_TIMEOUT": 1}
    storage = HostGatorStorage()
    with pytest.raises(TransferDeadlineExceeded):  # a 30 s reply timeout would give StoreTimeout
        storage.save_many({"stalled-0123456789.jpg": PHOTO})


def test_an_unreadable_ca_file_fails_every_save_at_once_and_holds_no_slot(hostgator, settings):
    settings.HOSTGATOR_FTP = {**hostgator.settings, "CA_FILE": "/nonexistent/ca.pem", "MAX_CONNECTIONS": 1}
    storage = HostGatorStorage()
    for _attempt in range(2):  # a leaked slot would make the second wait, then say "stayed busy"
        with pytest.raises(StoreError) as failed:
            storage.save_many({"ca-0123456789.jpg": PHOTO})
        assert "busy" not in str(failed.value)


def test_a_bug_in_the_work_is_raised_as_it_is_never_retried(storage, hostgator):
    attempts = []

    def buggy(connection):
        attempts.append(connection)
        return {}["missing"]

    with pytest.raises(KeyError):
        storage.pool.run("upload", "x", buggy)
    assert len(attempts) == 1


def test_a_folder_the_host_refused_to_make_is_made_once_it_can(storage, hostgator):
    hostgator.faults.reply("MKD", "550 No space left on device", times=None)
    with pytest.raises(StoreRefused):
        storage.save_many({"2027/01/first-0123456789.jpg": PHOTO})
    hostgator.faults.clear()  # space freed in cPanel
    storage.save_many({"2027/01/first-0123456789.jpg": PHOTO})
    assert (hostgator.root / "2027/01/first-0123456789.jpg").read_bytes() == PHOTO


def test_a_refused_pasv_reads_the_command_reply_too_and_keeps_the_session(storage, hostgator):
    """PASV and STOR go together: when PASV is refused, STOR's own refusal follows and is read, so
    the next attempt, on the same connection, gets its own replies."""
    hostgator.faults.reply("PASV", "425 Can't open passive connection", times=1)
    name = storage.save("match.jpg", ContentFile(PHOTO))
    assert (hostgator.root / name).read_bytes() == PHOTO
    # (the DELE: a refused upload's temporary name is always cleared, in case part of it was written)
    assert hostgator.verbs() == ["PASV", "STOR", "DELE", "PASV", "STOR", "MLST", "MLST", "RNFR", "RNTO"]
    assert storage.pool.connections_opened == 1
