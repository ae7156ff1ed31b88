"""A test process that plays the DAW: it sends Start, MIDI clock and Stop, and receives notes."""

import subprocess
import sys
import threading
import time

import mido

from live_biaxial.clock import sleep_until

sys.setswitchinterval(0.0002)  # short GIL slices: the clock and receive threads get in at once


_KEEP: list = []  # the DAWs' MIDI inputs, never closed (see FakeDaw.close)


class FakeDaw:
    def __init__(self, backend, tag):
        self.clock_name, self.in_name = f"{tag}-clock", f"{tag}-in"
        self.out = backend.open_output(self.clock_name, virtual=True)
        self.received: list[tuple[float, mido.Message]] = []
        import rtmidi

        # Read by polling rtmidi's own queue: no Python runs in JACK's thread on this side, so
        # what the test sees is what JACK delivered (a Python callback there, waiting for the
        # GIL, was seen to double messages).
        self.inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="fake-daw")
        self.inp.ignore_types(sysex=True, timing=False, active_sense=True)
        self.inp.open_virtual_port(self.in_name)
        # An echo: this process listens to its own clock output through JACK, so a test can tell the
        # server's (and this process's) own delays from the engine's.
        self.echo = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="fake-daw-echo")
        self.echo.ignore_types(sysex=True, timing=False, active_sense=True)
        self.echo.open_port(self.echo.get_ports().index(next(p for p in self.echo.get_ports() if self.clock_name in p)))
        self.sent_clock: list[float] = []  # send times of every pulse, since the port opened
        self.echoed_clock: list[float] = []  # arrival times of the same pulses, back through JACK
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()
        self.pulses: list[float] = []  # send times of the pulses since Start
        self._clock = mido.Message("clock")
        self.t = None

    def _poll(self):
        while not self._stop.is_set():
            item, echoed = self.inp.get_message(), self.echo.get_message()
            if item is not None:
                self.received.append((time.perf_counter(), mido.Message.from_bytes(item[0])))
            if echoed is not None and echoed[0] == [0xF8]:
                self.echoed_clock.append(time.perf_counter())
            if item is None and echoed is None:
                time.sleep(0.0002)

    def jack_delay_ms(self, t0: float, t1: float) -> float:
        """The longest time JACK took to bring back a pulse of this process's own sent between t0 and t1
        (perf_counter seconds): how long the server, or this process, stalled then. 0 when none came back."""
        n = min(len(self.sent_clock), len(self.echoed_clock))
        delays = [(self.echoed_clock[k] - self.sent_clock[k]) * 1e3 for k in range(n) if t0 <= self.sent_clock[k] <= t1]
        return max(delays, default=0.0)

    def send(self, kind, **kw):
        self.out.send(mido.Message(kind, **kw))

    def start(self):
        self.send("start")
        self.t = time.perf_counter() + 0.002
        self.pulses = []

    def clock(self, sixteenths, bpm, jitter_s=0.0, seed=0):
        """Pulses at bpm; ``jitter_s``: each sent up to that much early or late (USB MIDI, a busy DAW) while
        the grid itself keeps time. ``pulses`` holds when each really went out."""
        import numpy as np

        dt = 60.0 / (bpm * 24)
        shake = np.random.default_rng(seed).uniform(-jitter_s, jitter_s, int(sixteenths * 6)) if jitter_s else None
        for k in range(int(sixteenths * 6)):
            sleep_until(self.t + (shake[k] if shake is not None else 0.0), spin=0.0)  # no spin: it holds the GIL
            self.out.send(self._clock)
            sent = time.perf_counter()  # when it really went out
            self.pulses.append(sent)
            self.sent_clock.append(sent)
            self.t = max(self.t + dt, time.perf_counter() - (jitter_s or 0.0))  # a late pulse delays the rest

    def pause(self, seconds):
        self.t += seconds

    def note_ons(self, since=0.0):
        return [(t, m) for t, m in self.received if m.type == "note_on" and m.velocity > 0 and t >= since]

    def close(self, unplug=False):
        """unplug: also remove its input port from JACK (the lost-port test needs that)."""
        self._stop.set()
        self._poller.join()
        self.out.close()
        _KEEP.append(self.echo)
        # Not closed: RtMidi's JACK closePort unregisters the port while JACK's process thread may
        # still read it (a segfault of the test process). The client stays in the
        # graph (its process callback is C only, and the test server runs --sync, so a late client
        # delays a cycle instead of dropping its MIDI); it goes when the test process ends.
        if unplug:  # the client goes too, so a new one gets the same name (a synth plugged in again)
            self.inp.close_port()
            self.inp.delete()
        else:
            _KEEP.append(self.inp)


def start_engine(args, model, quiet: bool = True):
    """`live-biaxial play` in a subprocess; returns once it says it is playing. Not ``quiet``: a line per bar."""
    proc = subprocess.Popen([sys.executable, "-m", "live_biaxial", "play", "--api", "jack", "--model", str(model),
                             *(["--quiet"] if quiet else []), "--density", "-1.5", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "playing" not in line:
        proc.kill()
        raise AssertionError(f"engine did not start: {line} {proc.stderr.read()}")
    threading.Event().wait(0.3)  # let JACK finish wiring the connections
    return proc


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll ``condition()`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def stop_engine(proc) -> str:
    """SIGTERM, as a service manager or `kill` would; returns its stderr."""
    import signal

    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=10)[1]
