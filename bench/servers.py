"""The benchmarks' HostGator: tests/ftp_servers.py's InstrumentedHostGator (real pyftpdlib on loopback,
every command recorded), run in a child process so that the client under test (ours, stock
FTPStorage, lftp) never shares a GIL or a core's worth of Python with the server.

Two ways of simulating the WAN to HostGator, both as server-side delays before a reply:

- ``per_reply`` (the default; InstrumentedHostGator's own ``latency``): every command is answered
  ``delay`` seconds late, one after the other. A client that pipelines three commands waits 3 x delay,
  exactly as one that sends them one by one: only *fewer commands* help.
- ``per_round_trip`` (``RoundTripLatency`` below): a command is answered ``delay`` late only if the
  client waited for the previous reply before sending it; commands sent before the previous reply
  went out (pipelined) ride in the same round trip. This is what a real WAN does to the control
  connection (data connections are not delayed in either model: no TCP or TLS handshake costs).
"""

import multiprocessing
import select
import time
from pathlib import Path

from tests.ftp_servers import InstrumentedHostGator, RecordingFaultyHandler, start_hostgator

MODELS = ("per_reply", "per_round_trip")


class RoundTripLatency:
    """Control-connection mixin: ``hostgator.round_trip_latency`` once per client round trip.

    Whether the client waited: just before each reply goes out, is the next command already here
    (in asynchat's buffer, in OpenSSL's, or in the kernel's)? If so the client sent it without
    having seen this reply, i.e. pipelined it, and it is answered without a new delay. Checked
    *before* the reply is sent, so a client that waits can never be mistaken for one that pipelines."""

    _next_is_pipelined = False

    def respond(self, resp, *args, **kwargs):
        self._next_is_pipelined = self._input_waiting()
        super().respond(resp, *args, **kwargs)

    def _input_waiting(self):
        if getattr(self, "ac_in_buffer", b""):
            return True
        sock = self.socket
        if sock is None:
            return False
        pending = getattr(sock, "pending", None)
        try:
            if pending is not None and pending() > 0:
                return True
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)

    def pre_process_command(self, line, cmd, arg):
        delay = self.hostgator.round_trip_latency
        if not self._next_is_pipelined:
            self.hostgator._count_wait()
            if delay:
                time.sleep(delay)
        self._next_is_pipelined = False
        super().pre_process_command(line, cmd, arg)


class RoundTripHostGator(InstrumentedHostGator):
    handler_mixins = (RoundTripLatency, RecordingFaultyHandler)

    def __init__(self, *args, round_trip_latency=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.round_trip_latency = round_trip_latency
        self.waits = 0  # commands the client sent only after the previous reply: its round trips

    def _count_wait(self):
        with self._lock:
            self.waits += 1

    def forget_commands(self):
        super().forget_commands()
        with self._lock:
            self.waits = 0


def _start(base_dir, certificate, delay, model):
    if model == "per_reply":
        return start_hostgator(base_dir, certificate, latency=delay)
    certfile, keyfile = certificate or (None, None)
    import secrets

    server = RoundTripHostGator(base_dir / "ftp-root", secrets.token_urlsafe(16), certfile=certfile,
                                keyfile=keyfile, round_trip_latency=delay)
    return server.start()


def _serve(channel, base_dir, certificate, delay, model):
    server = _start(Path(base_dir), certificate, delay, model)
    channel.send({"settings": server.settings, "root": str(server.root), "public_url": server.public_url})
    try:
        while True:
            request, *arguments = channel.recv()
            if request == "commands":
                channel.send([tuple(command) for command in server.commands])
            elif request == "forget":
                server.forget_commands()
                channel.send(None)
            elif request == "waits":
                channel.send(getattr(server, "waits", None))
            elif request == "sessions":
                channel.send(server.sessions)
            elif request == "delay":
                if model == "per_reply":
                    server.latency = arguments[0]
                else:
                    server.round_trip_latency = arguments[0]
                channel.send(None)
            elif request == "stop":
                break
    except EOFError:
        pass
    finally:
        server.close()
        channel.close()


class ServerProcess:
    """An InstrumentedHostGator in a child process (spawned: no inherited threads or Django state).

    ``settings``: HOSTGATOR_FTP for it (TLS with ``certificate`` = (cert, key), plain FTP without);
    ``root``: the photo folder on disk (FTP /public_html/static/article_images/); ``commands()``:
    [(session, verb, argument)]; ``forget()``; ``set_delay(seconds)``; ``stop()``."""

    def __init__(self, base_dir, certificate=None, delay=0.030, model="per_reply"):
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}")
        base_dir = Path(base_dir)
        base_dir.mkdir(parents=True, exist_ok=True)
        self.model, self.delay, self.tls = model, delay, certificate is not None
        context = multiprocessing.get_context("spawn")
        self._channel, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, str(base_dir), certificate, delay, model),
                                        name=f"bench-ftp-{model}", daemon=True)
        self._process.start()
        child.close()
        if not self._channel.poll(30):
            self._process.kill()
            raise RuntimeError("the benchmark FTP server did not start within 30 s")
        started = self._channel.recv()
        self.settings = started["settings"]
        self.root = Path(started["root"])
        self.public_url = started["public_url"]
        self.port = self.settings["PORT"]
        self.password = self.settings["PASSWORD"]
        self.user = self.settings["USER"]

    def _ask(self, *request):
        self._channel.send(request)
        return self._channel.recv()

    def commands(self):
        return self._ask("commands")

    def verbs(self):
        return [verb for _session, verb, _argument in self.commands()]

    def forget(self):
        self._ask("forget")

    def waits(self):
        """per_round_trip model: round trips as the server saw them (commands not pipelined) since
        the last forget(); None in the per_reply model."""
        return self._ask("waits")

    def sessions(self):
        return self._ask("sessions")

    def set_delay(self, seconds):
        self._ask("delay", seconds)

    def stop(self):
        if self._process is None:
            return
        try:
            self._channel.send(("stop",))
        except OSError:
            pass
        self._process.join(timeout=20)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._channel.close()
        self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
