"""The host's real limits, made by real servers: a full disk or quota (Pure-FTPd's own 552 and
pyftpdlib answering Pure-FTPd's replies), a link that crawls (pyftpdlib's throttled reads), and the
per-IP connection cap (Pure-FTPd's -C 8, pyftpdlib's copy of it). No client is mocked."""

import threading

import pytest
from django.core.files.base import ContentFile

from storage.backends import HostGatorStorage
from storage.errors import StoreBusy, StoreFull, TransferDeadlineExceeded
from storage.ftp.config import FTPConfig
from storage.ftp.pool import FTPPool
from storage.ftp.replies import quota_use_percent
from tests.test_ftp_servers import ftps_login, wait_for
from tests.test_storage_faults import files_on_disk, temporaries

PHOTO = bytes(range(256)) * 400  # 100 KB


def noise(size):
    return (bytes(range(251)) * (size // 251 + 1))[:size]


@pytest.fixture
def storage(hostgator):
    storage = HostGatorStorage()
    storage.save("warm-up.jpg", ContentFile(b"warm"))
    hostgator.forget_commands()
    yield storage
    storage.disconnect()


# --- a full host -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reply", [
    "452 Insufficient storage space",
    "552-Transfer aborted (quota)\r\n552-12 files used (1%) - authorized: 1000 files\r\n"
    "552 Quota exceeded: [match.jpg] won't be saved",
    "451-Error during write to file\r\n451 0.005 seconds (measured here), 1.2 Mbytes per second",
])
def test_a_full_host_is_said_in_full_and_not_retried(storage, hostgator, reply):
    hostgator.faults.reply("STOR", reply, times=None)
    with pytest.raises(StoreFull) as failed:
        storage.save_many({"2026/12/match-0123456789.jpg": PHOTO})
    message = str(failed.value)
    for line in reply.split("\r\n"):
        assert line in message  # every line of a multi-line reply, the reason first
    assert hostgator.verbs().count("STOR") == 1  # sent once: another try cannot help
    assert files_on_disk(hostgator.root) == ["warm-up.jpg"]


def test_a_plain_local_error_is_still_retried(storage, hostgator):
    hostgator.faults.reply("STOR", "451 Local error in processing", times=1)
    storage.save_many({"match-0123456789.jpg": PHOTO})
    assert hostgator.verbs().count("STOR") == 2


def test_pure_ftpd_over_quota_says_quota_not_host_down(pure_ftpd, settings):
    server = pure_ftpd(quota_mb=1)
    settings.HOSTGATOR_FTP = server.settings
    storage = HostGatorStorage()
    storage.save_many({"small-0123456789.jpg": PHOTO})  # TLS, session reuse, rename: all fine here
    assert (server.folder / "small-0123456789.jpg").read_bytes() == PHOTO
    assert oct((server.folder / "small-0123456789.jpg").stat().st_mode & 0o777) == "0o644"
    with pytest.raises(StoreFull, match="Quota exceeded"):
        storage.save_many({"big-0123456789.jpg": noise(1_500_000)})
    assert not (server.folder / "big-0123456789.jpg").exists()
    storage.disconnect()


def test_pure_ftpds_login_reply_tells_how_full_the_quota_is(pure_ftpd, settings):
    server = pure_ftpd(quota_mb=1)
    settings.HOSTGATOR_FTP = server.settings
    storage = HostGatorStorage()
    storage.save_many({"first-0123456789.jpg": PHOTO})
    assert quota_use_percent(storage.pool.server.login_reply) == 0  # read at login, before the upload
    storage.save_many({"second-0123456789.jpg": noise(850_000)})
    storage.disconnect()  # the next connection logs in again and reads the quota anew
    assert quota_use_percent(storage.pool.run("NOOP", "", lambda connection: connection.server.login_reply)) >= 90
    storage.disconnect()


# --- a slow link -----------------------------------------------------------------------------------

def test_a_crawling_upload_ends_at_the_transfer_deadline_and_leaves_no_file(storage, hostgator, settings):
    settings.HOSTGATOR_FTP = {**hostgator.settings, "TRANSFER_TIMEOUT": 2}
    hostgator.read_limit = 16 * 1024  # 400 KB would take 25 s
    with pytest.raises(TransferDeadlineExceeded, match="HOSTGATOR_FTP_TRANSFER_TIMEOUT"):
        storage.save_many({"2026/12/slow-0123456789.jpg": noise(400_000)})
    assert not (hostgator.root / "2026/12/slow-0123456789.jpg").exists()
    hostgator.read_limit = 0
    storage.save_many({"2026/12/next-0123456789.jpg": PHOTO})  # the next save clears the temporary
    assert wait_for(lambda: temporaries(hostgator.root) == [])


@pytest.mark.parametrize("receive_buffer", [32_000, 2_000_000], ids=["bytes-still-ours", "bytes-acknowledged-unread"])
def test_a_slow_honest_upload_is_not_cut_by_the_reply_timeout(hostgator, settings, receive_buffer):
    # 1.1 MB read at 64 KB/s (in bursts of up to 2 s, as pyftpdlib throttles) with an 8 s reply
    # timeout: about 17 s of transfer, nearly all of it after sendall() has returned. Where the
    # bytes wait depends on the server's receive buffer:
    # - small: in our send queue; the wait lasts while they keep leaving (wait_until_delivered);
    # - large (CI's kernel gave one): the server's kernel acknowledges nearly all of them at once and
    #   the server answers only once it has read them, about 16 s later, although nothing is left
    #   on our side: the final reply is awaited until the transfer deadline, not the reply timeout.
    # (8 s, not less: a loaded CI machine stretches the server's pauses.)
    settings.HOSTGATOR_FTP = {**hostgator.settings, "TIMEOUT": 8, "TRANSFER_TIMEOUT": 90}
    hostgator.read_limit = 64 * 1024
    hostgator.receive_buffer = receive_buffer
    storage = HostGatorStorage()
    data = noise(1_100_000)
    storage.save_many({"2026/12/long-0123456789.jpg": data})
    assert (hostgator.root / "2026/12/long-0123456789.jpg").read_bytes() == data
    storage.disconnect()


# --- the per-IP connection cap -----------------------------------------------------------------------

def test_twenty_saves_at_once_against_pure_ftpds_cap_of_eight_all_land(pure_ftpd, settings):
    server = pure_ftpd(max_per_ip=8)
    settings.HOSTGATOR_FTP = {**server.settings, "MAX_CONNECTIONS": 10}
    storage = HostGatorStorage()
    saved, errors = [], []

    def save(index):
        try:
            saved.extend(storage.save_many({f"2026/12/photo{index}-0123456789.jpg": PHOTO}))
        except Exception as error:  # asserted below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(saved) == 20
    assert all((server.folder / name).read_bytes() == PHOTO for name in saved)
    storage.disconnect()


def test_a_save_waits_while_other_processes_hold_every_slot(hostgator, settings):
    hostgator.max_sessions_per_ip = 2
    others = [ftps_login(hostgator.settings) for _ in range(2)]  # e.g. a migration run beside the site
    storage = HostGatorStorage()
    result = {}
    sessions_before = hostgator.sessions
    saver = threading.Thread(target=lambda: result.update(names=storage.save_many({"wait-0123456789.jpg": PHOTO})))
    saver.start()
    assert wait_for(lambda: hostgator.sessions >= sessions_before + 2, timeout=10)  # refused at least twice
    for other in others:
        other.quit()
    saver.join(30)
    assert result["names"] == ["wait-0123456789.jpg"]
    assert (hostgator.root / "wait-0123456789.jpg").read_bytes() == PHOTO
    storage.disconnect()


def test_a_save_gives_up_at_its_deadline_when_the_slots_never_free(hostgator, settings):
    settings.HOSTGATOR_FTP = {**hostgator.settings, "TRANSFER_TIMEOUT": 2}
    hostgator.max_sessions_per_ip = 1
    other = ftps_login(hostgator.settings)
    storage = HostGatorStorage()
    with pytest.raises(StoreBusy, match="421 Too many connections"):
        storage.save_many({"never-0123456789.jpg": PHOTO})
    other.quit()
    storage.disconnect()


def hold_connections(pool, count):
    """``count`` threads that each hold one of the pool's connections at the same moment (a barrier
    in the work: it only opens once all of them are inside)."""
    barrier, errors = threading.Barrier(count), []

    def hold():
        try:
            pool.run("NOOP", "", lambda connection: barrier.wait(timeout=20))
        except Exception as error:  # asserted by the caller
            errors.append(error)

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_a_lowered_limit_climbs_back_when_the_host_allows_more(hostgator):
    hostgator.max_sessions_per_ip = 2
    pool = FTPPool(FTPConfig.from_settings({**hostgator.settings, "MAX_CONNECTIONS": 4, "CAP_RECOVERY_SECONDS": 0}))
    sessions_before, errors = hostgator.sessions, []
    busy = threading.Thread(target=lambda: errors.extend(hold_connections(pool, 3)))
    busy.start()
    assert wait_for(lambda: hostgator.sessions >= sessions_before + 3, timeout=10)  # the third was refused
    assert wait_for(lambda: pool.limit < 4, timeout=10)  # and the pool took the hint
    hostgator.max_sessions_per_ip = 4  # e.g. the migration run beside the site has ended
    busy.join(40)
    assert errors == []
    assert hold_connections(pool, 4) == []  # four at once: the limit is back to what was configured
    assert pool.limit == 4
    pool.close()
