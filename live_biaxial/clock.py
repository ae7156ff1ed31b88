"""Clock sources: they only tell time; the engine (a ClockSink) decides what happens on a tick.

All sources speak MIDI clock's language, 24 pulses per quarter note (6 per 16th):
``start(sixteenth)``, ``pulse(t)``, ``stop()``, ``continue_()``, ``locate(sixteenth)``.
An internal clock, a MIDI clock input and (later) Ableton Link are interchangeable.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

PPQN = 24
PULSES_PER_16TH = PPQN // 4


class ClockSink(Protocol):
    def start(self, sixteenth: int, t: float) -> None: ...
    def pulse(self, t: float, next_t: float | None) -> None: ...  # next_t: predicted time of the next pulse
    def stop(self) -> None: ...
    def continue_(self, t: float) -> None: ...
    def locate(self, sixteenth: int) -> None: ...


class SinkTap:
    """A ClockSink that passes every call on to another sink; subclasses add what they need."""

    def __init__(self, sink: ClockSink):
        self.sink = sink

    def start(self, sixteenth: int, t: float) -> None:
        self.sink.start(sixteenth, t)

    def pulse(self, t: float, next_t: float | None) -> None:
        self.sink.pulse(t, next_t)

    def stop(self) -> None:
        self.sink.stop()

    def continue_(self, t: float) -> None:
        self.sink.continue_(t)

    def locate(self, sixteenth: int) -> None:
        self.sink.locate(sixteenth)


def sleep_until(t: float, spin: float = 0.0015) -> None:
    """Sleep most of the way, then spin the last ~1.5 ms: sleep() alone overshoots by up to a ms."""
    while True:
        left = t - time.perf_counter()
        if left <= 0:
            return
        if left > spin:
            time.sleep(left - spin)


class InternalClock:
    """Pulses from perf_counter at a tempo that can change while playing."""

    def __init__(self, sink: ClockSink, bpm: float = 120.0):
        self.sink = sink
        self.bpm = min(300.0, max(20.0, float(bpm)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_bpm(self, bpm: float) -> None:
        self.bpm = min(300.0, max(20.0, float(bpm)))

    def run(self, sixteenths: int | None = None) -> None:
        """Play in the calling thread until stop() (or for a number of 16ths)."""
        t = time.perf_counter() + 0.05
        self.sink.start(0, t)
        n = 0
        while not self._stop.is_set():
            dt = 60.0 / (self.bpm * PPQN)
            sleep_until(t)
            self.sink.pulse(t, t + dt)
            n += 1
            if sixteenths is not None and n >= sixteenths * PULSES_PER_16TH:
                break
            t += dt
        self.sink.stop()

    def start_thread(self, sixteenths: int | None = None) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(sixteenths,), name="internal-clock", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def restart(self) -> threading.Thread:
        """Start again from bar 1 on a fresh thread (the console's play key)."""
        self.stop()
        self._stop = threading.Event()
        return self.start_thread()


class MidiClockFollower:
    """Follows a DAW's MIDI clock from an input port's callback.

    Tempo is estimated from the pulse intervals (an exponential moving average); a watchdog
    pauses the sink (which releases its notes) when pulses stop arriving while playing, and
    the next pulse resumes it. The sink is told when the next pulse is predicted (from the
    smoothed tempo), so that it can play early against the clock.
    """

    def __init__(self, sink: ClockSink, dropout_s: float = 0.25):
        self.sink = sink
        self.dropout_s = dropout_s
        self.interval: float | None = None  # smoothed seconds per pulse
        self.last_pulse: float | None = None
        self.running = False
        self.dropped = False
        self._lock = threading.Lock()
        self._watch_stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="clock-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def bpm(self) -> float | None:
        return 60.0 / (self.interval * PPQN) if self.interval else None

    def __call__(self, msg) -> None:  # the input port's callback
        t = time.perf_counter()
        with self._lock:
            if msg.type == "clock":
                if self.last_pulse is not None and not self.dropped:
                    dt = t - self.last_pulse
                    if self.interval is None:
                        self.interval = dt
                    elif dt < 4 * self.interval:  # ignore the gap of a dropout
                        self.interval += 0.1 * (dt - self.interval)
                self.last_pulse = t
                if self.running:
                    if self.dropped:
                        self.dropped = False
                        self.sink.continue_(t)
                    self.sink.pulse(t, t + self.interval if self.interval else None)
            elif msg.type == "start":
                self.running, self.dropped = True, False
                self.sink.start(0, t)
            elif msg.type == "continue":
                self.running, self.dropped = True, False
                self.sink.continue_(t)
            elif msg.type == "stop":
                self.running = False
                self.sink.stop()
            elif msg.type == "songpos":  # Song Position Pointer counts 16ths (MIDI beats)
                self.sink.locate(msg.pos)

    def _watch(self) -> None:
        while not self._watch_stop.wait(0.02):
            with self._lock:
                late = self.last_pulse is not None and time.perf_counter() - self.last_pulse > self.dropout_s
                if self.running and not self.dropped and late:
                    self.dropped = True
                    self.sink.stop()

    def close(self) -> None:
        self._watch_stop.set()
