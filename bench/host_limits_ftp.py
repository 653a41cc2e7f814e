"""The FTP-level measurements of bench/host_limits.py (issue 8's, repeated on the current code): the
per-IP connection cap on Debian's Pure-FTPd (§3: bursts, the lowered limit and its recovery, the
defaults' share of the 8 slots) and a full host (§4: Pure-FTPd's quota, Pure-FTPd's replies injected
into pyftpdlib). Saves are ``save_many()`` of one file, as tests/test_host_limits.py makes them."""

import io
import threading
import time

from bench.common import our_storage, stopwatch
from bench.host_limits_cases import SMALL, noise, short_error


def at_once(jobs):
    """Run every callable in ``jobs`` in its own thread, released together: [(error, seconds)]."""
    barrier, results = threading.Barrier(len(jobs)), [None] * len(jobs)

    def run(index, job):
        barrier.wait(30)
        start, error = time.perf_counter(), None
        try:
            job()
        except Exception as failure:  # counted by the caller
            error = failure
        results[index] = (error, time.perf_counter() - start)

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return results


def saving(storage, name, data=SMALL):
    return lambda: storage.save_many({name: data})


def cap_run(pure, run, saves=20, max_connections=10):
    """§3: ``saves`` threads save at once through one pool allowed ``max_connections``."""
    storage = our_storage(pure.settings, max_connections=max_connections)
    with stopwatch() as elapsed:
        results = at_once([saving(storage, f"2026/12/cap{run}-{index:02d}-0123456789.jpg") for index in range(saves)])
    failed = [(error, seconds) for error, seconds in results if error]
    row = {"ok": saves - len(failed), "failed": failed, "seconds": elapsed(), "limit": storage.pool.limit,
           "opened": storage.pool.connections_opened}
    storage.disconnect()
    time.sleep(0.5)  # let Pure-FTPd count the closed sessions out before the next run
    return row


def held_elsewhere(pure, count):
    """``count`` logged-in connections of "another process" (what a migration run would hold)."""
    from storage.ftp.config import FTPConfig
    from storage.ftp.connection import FTPConnection

    config = FTPConfig.from_settings({**pure.settings, "TIMEOUT": 15.0})
    return [FTPConnection.open(config) for _ in range(count)]


def burst(pool, threads, hold=0.3):
    """``threads`` operations at once on ``pool``, each keeping its connection ``hold`` seconds."""
    def use():
        pool.run("NOOP", "", lambda connection: (connection.ftp.voidcmd("NOOP"), time.sleep(hold)))

    return [error for error, _seconds in at_once([use] * threads) if error]


def lowered_pool(pure, max_connections, recovery_seconds, others=6):
    """A pool whose limit a 421 lowered: ``others`` slots of the 8 held elsewhere during a burst."""
    from storage.ftp.config import FTPConfig
    from storage.ftp.pool import FTPPool

    pool = FTPPool(FTPConfig.from_settings({**pure.settings, "TIMEOUT": 15.0, "MAX_CONNECTIONS": max_connections,
                                            "CAP_RECOVERY_SECONDS": recovery_seconds}))
    elsewhere = held_elsewhere(pure, others)
    burst(pool, max_connections)
    lowered = pool.limit
    for connection in elsewhere:
        connection.close()
    return pool, lowered


def limit_recovery(pure, max_connections, recovery_seconds, every, until, threads=None):
    """§3: the lowered limit over time, a burst of work every ``every`` s once the other process
    has left: [(seconds since it left, limit after the burst)], until back at min(max, 8)."""
    pool, lowered = lowered_pool(pure, max_connections, recovery_seconds)
    started, timeline, errors = time.monotonic(), [(0.0, lowered)], []
    while time.monotonic() - started < until and pool.limit < min(max_connections, pure.max_per_ip):
        time.sleep(max(0.0, started + len(timeline) * every - time.monotonic()))
        errors += burst(pool, threads or max_connections)
        timeline.append((time.monotonic() - started, pool.limit))
    pool.close()
    return {"lowered": lowered, "timeline": timeline, "errors": errors}


def defaults_share(pure, saves=10):
    """§3: two workers' pools (MAX_CONNECTIONS=3 each) saving ``saves`` photos apiece while
    check_hostgator runs from the same address: all at once, against the cap of 8."""
    from storage.health import check_hostgator

    workers = [our_storage(pure.settings, max_connections=3) for _ in range(2)]
    command, report = our_storage(pure.settings, max_connections=3), {}
    jobs = [saving(storage, f"2026/12/share{number}-{index:02d}-0123456789.jpg")
            for number, storage in enumerate(workers) for index in range(saves)]
    jobs.append(lambda: report.update(check=check_hostgator(command, fix=True)))
    with stopwatch() as elapsed:
        results = at_once(jobs)
    failed = [error for error, _seconds in results[:-1] if error]
    check = report.get("check")
    check_failures = [f"{line.label}: {line.detail}" for line in check.failed] if check else \
        [short_error(results[-1][0])]
    row = {"failed": failed, "seconds": elapsed(), "limits": [storage.pool.limit for storage in workers],
           "check_failures": check_failures, "check_seconds": results[-1][1]}
    for storage in (*workers, command):
        storage.disconnect()
    time.sleep(0.5)
    return row


# --- a full host ----------------------------------------------------------------------------------------

class CountingReader(io.BytesIO):
    """The file as the transport reads it: how many bytes it took to send."""

    taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def full_upload(storage, data, name="2026/12/full-0123456789.jpg"):
    """§4: one upload the way save_many sends it, counting the attempts (each a fresh read of the
    file) and the bytes read for sending."""
    attempts, path = [], storage.remote_path(name)

    def work(connection):
        attempts.append(CountingReader(data))
        return connection.upload_atomically(path, attempts[-1], overwrite=True)

    error, opened = None, storage.pool.connections_opened
    with stopwatch() as elapsed:
        try:
            storage.pool.run("upload", path, work)
        except Exception as failure:  # reported
            error = failure
    return {"error": error, "seconds": elapsed(), "attempts": len(attempts),
            "taken": [reader.taken for reader in attempts], "opened": storage.pool.connections_opened - opened}


def injected_full_reply(server, reply):
    """§4 on pyftpdlib answering Pure-FTPd's words to every STOR: STOR count from the server's record."""
    storage = our_storage(server.settings)
    storage.save_many({"2026/12/warm-0123456789.jpg": SMALL})  # connection and folder ready
    server.forget_commands()
    server.faults.reply("STOR", reply, times=None)
    row = full_upload(storage, noise(1_500_000))
    row["stors"] = server.verbs().count("STOR")
    server.faults.clear()
    storage.disconnect()
    return row
