"""Round trips and wall time per upload, warm and cold: ours (HostGatorStorage, TLS and plain) vs
stock django-storages FTPStorage (ftp:// and ftps://), with the WAN simulated server-side.

    .venv/bin/python -m bench.storage_uploads        (BENCH_UPLOADS=30 warm uploads, BENCH_COLD=5)

Warm: one storage, a first upload not counted (connection, FEAT, folders learnt), then N uploads of
100 KB to new names in an existing YYYY/MM folder, each timed alone, the server's record read after
each. Cold: N storages, one upload each on a new connection (connect, TLS, login... included).
Each configuration writes to its own month folder, so stock's NLST lists only its own files.
"""

import collections
import os
import sys
import time

from django.core.files.base import ContentFile

from bench.common import (
    DELAY,
    certificate,
    median,
    ms,
    our_storage,
    ratio,
    round_trips_of,
    say,
    stock_storage,
    stopwatch,
    table,
    temporary_dir,
    verbs_summary,
    write_section,
)
from bench.servers import ServerProcess

WARM = int(os.environ.get("BENCH_UPLOADS", "30"))
WARM_ROUND_TRIP_MODEL = int(os.environ.get("BENCH_UPLOADS_RT", "20"))
COLD = int(os.environ.get("BENCH_COLD", "5"))
SIZE = 100 * 1024


class Client:
    """One configuration under test: how to make a storage, and how to count its round trips."""

    def __init__(self, label, kind, tls, make, many=False):
        self.label, self.kind, self.tls, self.make, self.many = label, kind, tls, make, many

    def upload(self, storage, name, payload):
        if self.many:  # the photo pipeline's call: names carry a content hash, no free-name check
            storage.save_many({name: payload})
        else:
            storage.save(name, ContentFile(payload, name=name.rsplit("/", 1)[-1]))

    def round_trips(self, storage, verbs):
        # Stock FTPStorage is plain ftplib: one command, one wait for its reply.
        return round_trips_of(storage) if self.kind != "stock" else len(verbs)

    @staticmethod
    def close(storage):
        try:
            storage.disconnect()
        except Exception:  # noqa: BLE001 (stock's disconnect() fails when it never connected)
            pass


OURS_TLS, OURS_PLAIN = "ours, TLS (explicit, verified)", "ours, plain FTP"
OURS_MANY = "ours, TLS, save_many() of one file"
STOCK_PLAIN, STOCK_TLS = "stock FTPStorage, ftp://", "stock FTPStorage, ftps:// (unverified)"


def clients():
    return [
        Client(OURS_TLS, "ours", True, lambda server: our_storage(server.settings)),
        Client(OURS_PLAIN, "ours", False, lambda server: our_storage(server.settings)),
        Client(OURS_MANY, "ours", True, lambda server: our_storage(server.settings), many=True),
        Client(STOCK_PLAIN, "stock", False, lambda server: stock_storage(server, "ftp")),
        Client(STOCK_TLS, "stock", True, lambda server: stock_storage(server, "ftps")),
    ]


def describe(error):
    cause = error.__cause__ or error.__context__
    return f"{type(error).__name__}: {error}" + (f" (cause: {cause!r})" if cause else "")


def measure_warm(client, server, folder, count):
    """A failed upload is recorded and left out of the times, not retried. After a failure the storage is
    replaced by a new one, warmed up again (untimed): stock's connection stays out of step with its
    server after some failures (every later call reads a stale reply), so it would only fail from then on."""
    (server.root / folder).mkdir(parents=True, exist_ok=True)
    payload = os.urandom(SIZE)
    times, commands, round_trips, waits, sequences, failures = [], [], [], [], collections.Counter(), []

    def fresh_warm_storage(previous=None):
        if previous is not None:
            client.close(previous)
        for attempt in range(3):
            storage = client.make(server)
            try:
                client.upload(storage, f"{folder}/warm-up-{len(failures)}-{attempt}.jpg", payload)
                return storage
            except Exception as error:  # noqa: BLE001
                failures.append(f"warm-up: {describe(error)}")
                client.close(storage)
        raise RuntimeError(f"{client.label}: no warm connection after 3 attempts: {failures[-1]}")

    storage = fresh_warm_storage()
    try:
        for index in range(count):
            server.forget()
            before = round_trips_of(storage)
            try:
                with stopwatch() as elapsed:
                    client.upload(storage, f"{folder}/upload-{index:03d}.jpg", payload)
            except Exception as error:  # noqa: BLE001
                failures.append(describe(error))
                storage = fresh_warm_storage(storage)
                continue
            verbs = server.verbs()
            waits.append(server.waits())
            times.append(elapsed())
            commands.append(len(verbs))
            round_trips.append(round_trips_of(storage) - before if client.kind == "ours" else len(verbs))
            sequences[tuple(verbs)] += 1
    finally:
        client.close(storage)
    return {"times": times, "commands": commands, "round_trips": round_trips, "waits": waits,
            "sequence": sequences.most_common(1)[0][0] if sequences else (), "failures": failures}


def measure_cold(client, server, folder, count):
    (server.root / folder).mkdir(parents=True, exist_ok=True)
    payload = os.urandom(SIZE)
    times, commands, round_trips, waits, failures, verbs = [], [], [], [], [], []
    for index in range(count):
        storage = client.make(server)
        server.forget()
        try:
            with stopwatch() as elapsed:
                client.upload(storage, f"{folder}/cold-{index:03d}.jpg", payload)
        except Exception as error:  # noqa: BLE001
            failures.append(describe(error))
            client.close(storage)
            continue
        verbs = server.verbs()
        waits.append(server.waits())
        times.append(elapsed())
        commands.append(len(verbs))
        round_trips.append(client.round_trips(storage, verbs))
        client.close(storage)
    return {"times": times, "commands": commands, "round_trips": round_trips, "waits": waits, "sequence": tuple(verbs),
            "failures": failures}


def run_model(model, cert, count):
    say(f"\n== {model.replace('_', ' ')}: {DELAY * 1000:.0f} ms, {count} warm + {COLD} cold uploads of 100 KB ==")
    results = {}
    servers = {True: ServerProcess(temporary_dir("tls"), cert, DELAY, model),
               False: ServerProcess(temporary_dir("plain"), None, DELAY, model)}
    try:
        for month, client in enumerate(clients(), start=1):
            server = servers[client.tls]
            warm = measure_warm(client, server, f"2026/{month:02d}", count)
            cold = measure_cold(client, server, f"2025/{month:02d}", COLD)
            results[client.label] = {"client": client, "warm": warm, "cold": cold}
            say(f"{client.label:42} warm {ms(sum(warm['times']) / count):>7} per upload, "
                f"{sum(warm['commands']) / count:4.1f} commands, {sum(warm['round_trips']) / count:4.1f} round trips | "
                f"cold {ms(median(cold['times'])):>7}, {median(cold['commands']):.0f} commands")
    finally:
        for server in servers.values():
            server.stop()
    return results


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def results_table(results, model):
    rows = []
    waits = model == "per_round_trip"
    for label, result in results.items():
        warm, cold = result["warm"], result["cold"]
        rows.append((label, f"{mean(warm['commands']):.1f}", f"{mean(warm['round_trips']):.1f}",
                     *([f"{mean(warm['waits']):.1f}"] if waits else []),
                     ms(mean(warm["times"])), ms(median(warm["times"])), f"{mean(cold['commands']):.0f}",
                     f"{mean(cold['round_trips']):.0f}", *([f"{mean(cold['waits']):.0f}"] if waits else []),
                     ms(median(cold["times"])), len(warm["failures"]) + len(cold["failures"])))
    return table(("client", "warm: commands (server)", "warm: round trips (client count)",
                  *(["warm: round trips (server saw)"] if waits else []), "warm: mean time", "warm: median",
                  "cold: commands", "cold: round trips (client)", *(["cold: (server saw)"] if waits else []),
                  "cold: median time", "failed uploads"), rows)


def failures_text(by_model):
    lines, stock_failed = [], False
    for model, results in by_model.items():
        for label, result in results.items():
            failures = result["warm"]["failures"] + result["cold"]["failures"]
            if failures:
                stock_failed = stock_failed or result["client"].kind == "stock"
                kinds = collections.Counter(failures)
                lines.append(f"- {label} ({model.replace('_', ' ')}): {len(failures)} failed — "
                             + "; ".join(f"{count} × `{text}`" for text, count in kinds.most_common(3)))
    if not lines:
        return "No upload failed."
    text = ("Failed uploads (left out of the times, not retried; after a failure the benchmark replaces the "
            "storage and warms a new one up, untimed):\n" + "\n".join(lines))
    if stock_failed:
        text += ("\n\nStock over ftps:// fails now and then on the `NLST` of `exists()` (ftplib's SSL shutdown of "
                 "the data connection while its handshake is still in progress, e.g. listing an empty folder); the "
                 "exception it raises (`Error when testing existence of …`) hides which. Its connection then stays out "
                 "of step (each later command reads the previous one's reply, e.g. `error_reply('200 Type set to: "
                 "ASCII.')`), and stock never recovers from that by itself: every later `save()` fails.")
    return text


def speedups(results):
    pairs = [(OURS_PLAIN, STOCK_PLAIN), (OURS_TLS, STOCK_TLS), (OURS_TLS, STOCK_PLAIN), (OURS_MANY, STOCK_TLS)]
    rows, values = [], {}
    for ours, stock in pairs:
        warm = mean(results[stock]["warm"]["times"]) / mean(results[ours]["warm"]["times"])
        cold = median(results[stock]["cold"]["times"]) / median(results[ours]["cold"]["times"])
        rows.append((f"{ours} vs {stock}", ratio(warm), ratio(cold)))
        values[(ours, stock)] = warm
    return table(("comparison", "warm speed-up", "cold speed-up"), rows), values


def tls_probe(cert):
    """One upload each against Debian's vsftpd with require_ssl_reuse=YES (as ProFTPD and many
    shared hosts behave): does the client's TLS work there at all?"""
    from tests.ftp_servers import Vsftpd, vsftpd_available

    if not vsftpd_available():
        return "vsftpd is not installed: probe skipped."
    server = Vsftpd(temporary_dir("vsftpd"), cert).start()
    lines = []
    try:
        ours = our_storage(server.settings, file_mode=None)
        try:
            for index in range(3):
                ours.save(f"probe-{index}.jpg", ContentFile(b"x" * 1000))
            lines.append("ours: 3 uploads on one connection, OK (data connections resume the TLS session)")
        except Exception as error:  # noqa: BLE001
            lines.append(f"ours: FAILED — {type(error).__name__}: {error}")
        finally:
            ours.disconnect()
        from storages.backends.ftp import FTPStorage

        stock = FTPStorage(location=f"ftps://anonymous:cmtch@example.org@127.0.0.1:{server.port}"
                                    f"/public_html/static/article_images/", base_url=server.public_url)
        try:
            stock.save("stock-probe.jpg", ContentFile(b"x" * 1000))
            lines.append("stock ftps://: upload OK")
        except Exception as error:  # noqa: BLE001
            cause = error.__cause__ or error.__context__
            lines.append(f"stock ftps://: FAILED — {type(error).__name__}: {error} (cause: {cause!r})")
    finally:
        server.stop()
    return "\n".join(f"- {line}" for line in lines)


def stock_notes(results):
    sequence = results["stock FTPStorage, ftp://"]["warm"]["sequence"]
    return (f"Stock `FTPStorage.save()` per warm upload ({len(sequence)} commands, server record): "
            f"`{' '.join(sequence)}` — i.e. `PWD` (liveness check in `_start_connection`), `TYPE A` + `PASV` + "
            "`NLST <folder>` (`exists()` lists the whole folder for `get_available_name`), `PWD` + `PWD` + `CWD` "
            "per path part + `CWD` back (`_mkremdirs`, every time, even for a known folder), `PWD` + `CWD <folder>` "
            "+ `TYPE I` + `PASV` + `STOR` + `CWD` back (`_put_file`). Two data connections per upload (NLST and "
            "STOR); with ftps:// each is a new full TLS handshake (no session reuse).")


def main():
    started = time.perf_counter()
    cert = certificate()
    by_model = {"per_reply": run_model("per_reply", cert, WARM),
                "per_round_trip": run_model("per_round_trip", cert, WARM_ROUND_TRIP_MODEL)}
    probe = tls_probe(cert)
    say("", "vsftpd (require_ssl_reuse=YES) probe:", probe)
    write_report(started, by_model, probe)


def write_report(started, by_model, probe):
    reply, round_trip = by_model["per_reply"], by_model["per_round_trip"]
    per_reply_table, per_reply = speedups(reply)
    per_rt_table, per_rt = speedups(round_trip)

    def warm(results, label, key="times"):
        return mean(results[label]["warm"][key])

    warm_round_trips = max(warm(reply, label, "round_trips") for label in (OURS_TLS, OURS_PLAIN, OURS_MANY))
    server_saw = warm(round_trip, OURS_TLS, "waits")
    plain, secure = per_reply[(OURS_PLAIN, STOCK_PLAIN)], per_reply[(OURS_TLS, STOCK_TLS)]
    many = per_reply[(OURS_MANY, STOCK_TLS)]
    rt_tls, rt_plain = per_rt[(OURS_TLS, STOCK_TLS)], per_rt[(OURS_PLAIN, STOCK_PLAIN)]
    stock_commands, ours_commands = warm(reply, STOCK_PLAIN, "commands"), warm(reply, OURS_TLS, "commands")
    many_commands = warm(reply, OURS_MANY, "commands")
    cap, many_cap = stock_commands / ours_commands, stock_commands / many_commands
    stock_ms = warm(reply, STOCK_PLAIN) * 1000
    tls_cost = (warm(reply, OURS_TLS) - warm(reply, OURS_PLAIN)) * 1000
    stock_tls_cost = (warm(reply, STOCK_TLS) - warm(reply, STOCK_PLAIN)) * 1000
    delay_ms = DELAY * 1000
    chmod = "sent here" if "SITE CHMOD" in reply[OURS_TLS]["warm"]["sequence"] else "not needed here, files are 644"
    body = f"""
{WARM} warm uploads ({WARM_ROUND_TRIP_MODEL} in the per-round-trip model) and {COLD} cold uploads of 100 KB per
client, {delay_ms:.0f} ms simulated WAN. **Commands** = what the server received (its record). **Round trips
(client count)** = the client's own count of waits for a reply (`FTPConnection.round_trips`: a pipelined batch
counts once; stock's ftplib waits after every command). **Round trips (server saw)** = commands that reached the
server only after the previous reply had gone out. Times: wall time of `storage.save()` (or `save_many()`), one
upload at a time.

### Per reply ({delay_ms:.0f} ms before every reply — the model the targets are set in)

{results_table(reply, "per_reply")}

{per_reply_table}

### Per round trip ({delay_ms:.0f} ms once per round trip — what a real WAN does)

{results_table(round_trip, "per_round_trip")}

{per_rt_table}

### What each client sends (server record)

- Ours, warm `save()`: `{" ".join(reply[OURS_TLS]["warm"]["sequence"])}` — 4 round trips: `PASV`; `STOR` (and
  its 226 after the data); `MLST <temporary>` (size and mode; `SITE CHMOD` follows only when the mode is wrong:
  {chmod}) + `MLST <final>` (`save()` never overwrites) pipelined; `RNFR` + `RNTO` pipelined.
- Ours, warm `save_many()` (the photo pipeline's call; content-hash names are overwritten, no check):
  `{" ".join(reply[OURS_MANY]["warm"]["sequence"])}`.
- Ours, cold (TLS): `{verbs_summary(reply[OURS_TLS]["cold"]["sequence"])}`.
- Stock, cold (ftps://): `{verbs_summary(reply[STOCK_TLS]["cold"]["sequence"])}`.
- {stock_notes(reply)}
- Stock `ftps://` connected to our self-signed certificate without being given any CA: ftplib's `FTP_TLS()`
  verifies nothing (no context → `ssl._create_stdlib_context()`, CERT_NONE), so a man in the middle would get
  the password. It *works* against pyftpdlib only because pyftpdlib does not demand TLS session reuse.

{failures_text(by_model)}

Against Debian's vsftpd with `require_ssl_reuse=YES` (as ProFTPD and many hosts' FTPS set-ups behave):
{probe}

### Reading the figures

- **Per reply: ≥ 2.9× is missed, {ratio(plain)} plain, {ratio(secure)} TLS.** Every command costs
  {delay_ms:.0f} ms, pipelined or not, so ours can be at most about {stock_commands:.0f} ÷ {ours_commands:.0f} =
  {ratio(cap)} faster than stock (a little more in practice: stock also opens a second data connection, for
  `NLST`). Stock takes {stock_ms:.0f} ms; 2.9× means ≤ {stock_ms / 2.9:.0f} ms, i.e. at most 5 commands. `save()`
  needs its {ours_commands:.0f}: `PASV` and `STOR` (the data), `MLST <temporary>` (verify size and mode),
  `MLST <final>` (never overwrite), `RNFR` + `RNTO` (atomic). `save_many()`, which the photo pipeline uses, has
  no free-name check: {many_commands:.0f} commands, {ratio(many)} (at most ~{ratio(many_cap)}).
- **Per round trip: {ratio(rt_plain)} plain, {ratio(rt_tls)} TLS.** Ours waits for {warm_round_trips:.0f} replies
  per warm upload (the server saw {server_saw:.1f}), stock for {stock_commands:.0f}. Each pipeline leaves in one
  write on a socket without Nagle's algorithm, so this holds on a real network too.
- TLS costs ours {tls_cost:.0f} ms per warm upload over plain FTP (data connections resume the session), stock
  {stock_tls_cost:.0f} ms (each of its two data connections per upload is a new full TLS handshake).
- Cold uploads are mostly the login, which both clients need (TLS: `AUTH USER PASS PBSZ PROT`). Ours adds
  `FEAT` (once per pool), `OPTS MLST` (asks for the mode fact), `OPTS UTF8` and `TYPE I` (once per connection).
"""
    targets = [
        {"target": "≤ 5 round trips per warm upload (incl. atomic rename)",
         "measured": f"{warm_round_trips:.1f} by the client's count ({server_saw:.1f} seen by the server, per round "
                     f"trip)",
         "met": warm_round_trips <= 5},
        {"target": "≥ 2.9× faster than stock at 30 ms per reply (plain vs ftp://, warm save())",
         "measured": f"{ratio(plain)}, capped near {stock_commands:.0f}/{ours_commands:.0f} commands "
                     f"(per round trip: {ratio(rt_plain)})",
         "met": plain >= 2.9},
        {"target": "≥ 2.9× faster than stock at 30 ms per reply (TLS vs ftps://, warm save())",
         "measured": f"{ratio(secure)}; save_many(): {ratio(many)} (per round trip: {ratio(rt_tls)})",
         "met": secure >= 2.9},
    ]
    write_section("storage_uploads", "1. storage_uploads — one upload, ours vs stock FTPStorage", body, targets,
                  time.perf_counter() - started)
    say("", f"speed-up per reply: plain {ratio(plain)}, TLS {ratio(secure)}, save_many {ratio(many)}; per round trip: "
            + ", ".join(f"{ours} vs {stock}: {ratio(value)}" for (ours, stock), value in per_rt.items()))
    say(f"wrote the storage_uploads section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    sys.exit(main())
