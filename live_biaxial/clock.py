"""Clock sources: they only tell time; the engine (a ClockSink) decides what happens on a tick.

All sources speak MIDI clock's language, 24 pulses per quarter note (6 per 16th):
``start(sixteenth)``, ``pulse(t)``, ``stop()``, ``continue_()``, ``locate(sixteenth)``.
An internal clock, a MIDI clock input and Ableton Link (link_clock.py) are interchangeable.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

PPQN = 24
PULSES_PER_16TH = PPQN // 4
LOCK_PULSES = PPQN  # pulses averaged before the clock follower predicts (one beat)
# a pulse further than this from the prediction means the tempo jumped: the follower locks again
RELOCK_SHARE, RELOCK_MIN_S = 0.15, 0.0015


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


class ThreadedClock:
    """A clock source that plays on a thread of its own: ``run(sixteenths)`` until ``stop()``."""

    thread_name = "clock"

    def __init__(self, sink: ClockSink):
        self.sink = sink
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, sixteenths: int | None = None) -> None:
        raise NotImplementedError

    def start_thread(self, sixteenths: int | None = None) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(sixteenths,), name=self.thread_name, daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def close(self) -> None:
        """Stop for good (play's exit)."""
        self.stop()


class InternalClock(ThreadedClock):
    """Pulses from perf_counter at a tempo that can change while playing."""

    thread_name = "internal-clock"

    def __init__(self, sink: ClockSink, bpm: float = 120.0):
        super().__init__(sink)
        self.bpm = min(300.0, max(20.0, float(bpm)))

    def label(self) -> str:
        return f"internal {self.bpm:.0f} BPM"

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

    def transport(self, play: bool) -> None:
        """The console's play/stop: play again from bar 1, or stop."""
        if play:
            self.restart()
        else:
            self.stop()

    def restart(self) -> threading.Thread:
        """Start again from bar 1 on a fresh thread (the console's play key)."""
        self.stop()
        self._stop = threading.Event()
        return self.start_thread()


class MidiClockFollower:
    """Follows a DAW's MIDI clock from an input port.

    The pulse times are filtered by a delay-locked loop (a second-order DLL, as JACK and Ableton
    Link filter time): it predicts when the next pulse will come, so the engine can send a 16th
    on its predicted tick instead of after it arrives (free of the MIDI driver's jitter), and it
    gives a smooth tempo. A pulse that comes about two or three intervals after the last one means
    pulses were lost on the way (JACK drops a cycle's MIDI when a client is late): the missing
    pulses are counted, so the engine's 16th grid does not slip; if the "lost" pulse then comes
    right after (it was only late), it is not counted twice. A pulse right on the heels of one
    that came on time is a copy (JACK repeats a cycle's MIDI when a client was late): it is
    ignored and counted as doubled. One pulse far from its prediction (a late JACK cycle) is let
    pass; two in a row (a tempo jump) start the lock again: no predictions (the engine plays on
    the tick) until a beat of pulses has given the new tempo. A watchdog pauses the sink (which
    releases its notes) when pulses stop arriving while playing; the next pulse resumes it.
    """

    def __init__(self, sink: ClockSink, dropout_s: float = 0.25, bandwidth: float = 0.01):
        self.sink = sink
        self.dropout_s = dropout_s
        # DLL gains for a bandwidth given as a fraction of the pulse rate (0.01: settles in ~16 pulses)
        omega = 2 * math.pi * bandwidth
        self.b, self.c = math.sqrt(2) * omega, omega * omega
        self.interval: float | None = None  # filtered seconds per pulse
        self.predicted: float | None = None  # filtered time of the next pulse
        self.last_pulse: float | None = None  # when the last pulse was seen
        self.lost_pulses = 0
        self.doubled_pulses = 0  # copies of a pulse, ignored
        self._count, self._first = 0, 0.0  # pulses since locking began, and its first pulse's time
        self._owed = 0  # pulses counted as lost at the last pulse (a late one shows up right after)
        self._strayed = False  # the last pulse was far from its prediction (a second one relocks)
        self._scatter = 0.0  # mean distance of pulses from their predicted slots, seconds
        self._sums = [0.0] * 6  # the line fitted through the pulses while locking (_add, _fit)
        self.running = False
        self.dropped = False
        self._lock = threading.Lock()
        self._watch_stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="clock-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def bpm(self) -> float | None:
        return 60.0 / (self.interval * PPQN) if self.interval else None

    def __call__(self, msg, t: float | None = None) -> None:  # the input port's callback
        t = time.perf_counter() if t is None else t
        with self._lock:
            if msg.type == "clock":
                self._pulse(t)
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

    def _pulse(self, t: float) -> None:
        missed = 0
        gap = t - self.last_pulse if self.last_pulse is not None else None
        if gap is None or self.dropped or (self.interval and gap >= 4 * self.interval):
            self._relock(t)
        elif self.predicted is None:  # locking: a straight line through its pulses gives their slots and the tempo
            fit = self._fit() if self._sums[0] >= 4 else None
            if fit is not None and fit[2] < 0.2 * fit[1]:  # pulses near a line: a gap clearly not one interval
                _, b, spread = fit
                if gap < max(0.5 * b - 2 * spread, 0.2 * b):  # a copy of the last, or a late one counted already
                    self._copy()
                    return
                if gap > 1.5 * b + 2 * spread:  # lost on the way
                    missed = min(round(gap / b), 3) - 1
                    self.lost_pulses += missed
            self._count += 1 + missed
            self._add(self._count, t - self._first)
            fit = self._fit()
            if fit is not None:
                self.interval = fit[1]
            elif self._count >= 2:
                self.interval = (t - self._first) / self._count  # 0 while a held-up burst arrives at one time
            if self._count >= LOCK_PULSES:
                if fit is None or fit[2] >= 0.2 * fit[1]:  # a beat of pulses at one time, or far off any line
                    self._relock(t)  # (a burst held up on the way): no tempo told; measure again from here
                else:  # locked: from here on the DLL filters, from where the line puts the next pulse
                    a, b, spread = fit
                    self.interval, self._scatter = b, spread
                    self.predicted = self._first + a + b * (self._count + 1)
        else:
            err = t - self.predicted
            tolerance = self._tolerance()
            k = round(err / self.interval)
            early_after_loss = self._owed and gap < (1 - RELOCK_SHARE) * self.interval and err < -tolerance
            if early_after_loss or (k == -1 and abs(err + self.interval) < tolerance):
                self._copy()  # in the slot of the pulse just counted: the "lost" one was only late, or a copy
                return
            if 1 <= k <= 2 and abs(err - k * self.interval) < tolerance:
                missed, err = k, err - k * self.interval  # right where the pulse after would be: lost
            if abs(err) < 0.5 * self.interval:  # how far pulses scatter about their slots (USB, a busy DAW)
                self._scatter += 0.05 * (abs(err) - self._scatter)
            off_grid = abs(err) > tolerance  # (never with missed)
            if off_grid and self._strayed:  # two in a row: a tempo jump (a late pulse is one)
                self._relock(t)
            elif off_grid:  # one late pulse (a late JACK cycle): keep the lock, ignore its error
                self._strayed = True
                self.predicted += self.interval
            else:
                self._strayed = False
                now = self.predicted + missed * self.interval  # when the DLL expected this pulse
                self.predicted = now + self.interval + self.b * err
                self.interval += self.c * err
                self.lost_pulses += missed
        self._owed = missed
        self.last_pulse = t
        if not self.running:
            return
        if self.dropped:
            self.dropped = False
            self.sink.continue_(t)
        locked = self.predicted is not None  # else no prediction: the engine plays on the tick
        now = self.predicted - self.interval if locked else t
        for k in range(missed, 0, -1):  # the lost ones first, so the 16th count stays right
            self.sink.pulse(now - k * self.interval, now - (k - 1) * self.interval if locked else None)
        self.sink.pulse(now, self.predicted)

    def _copy(self) -> None:
        """A pulse in the slot of one already counted: the "lost" one only came late, or a copy of the last."""
        if self._owed:
            self._owed -= 1
            self.lost_pulses -= 1
        else:
            self.doubled_pulses += 1

    def _tolerance(self) -> float:
        """How far from its slot a pulse may come and still be that slot's: wider where pulses scatter (three
        times their mean distance from the prediction), never so wide that two slots meet."""
        return min(max(RELOCK_SHARE * self.interval, RELOCK_MIN_S, 3 * self._scatter), 0.4 * self.interval)

    def _relock(self, t: float) -> None:
        """Forget the phase (no predictions) and measure the tempo again from this pulse."""
        self._count, self._first, self.predicted, self._strayed = 0, t, None, False
        self._sums = [0.0] * 6
        self._add(0, 0.0)

    def _add(self, slot: int, t: float) -> None:
        """One more point (slot, seconds since the first pulse) of the line fitted while locking."""
        s = self._sums
        s[0] += 1
        s[1] += slot
        s[2] += t
        s[3] += slot * slot
        s[4] += slot * t
        s[5] += t * t

    def _fit(self) -> tuple[float, float, float] | None:
        """The least-squares line t = a + b * slot through the locking pulses: (a, b, the mean distance of a
        pulse from it), or None with fewer than 3 pulses or no tempo (a burst at one time)."""
        n, sx, sy, sxx, sxy, syy = self._sums
        den = n * sxx - sx * sx
        if n < 3 or den <= 0:
            return None
        b = (n * sxy - sx * sy) / den
        if b < 1e-4:  # pulses 0.1 ms apart: a held-up burst, no tempo
            return None
        a = (sy - b * sx) / n
        var = max((syy - a * sy - b * sxy) / n, 0.0)
        return a, b, 0.8 * math.sqrt(var)  # (the mean distance is about 0.8 standard deviations)

    def _watch(self) -> None:
        while not self._watch_stop.wait(0.02):
            with self._lock:
                late = self.last_pulse is not None and time.perf_counter() - self.last_pulse > self.dropout_s
                if self.running and not self.dropped and late:
                    self.dropped = True
                    self.sink.stop()

    def close(self) -> None:
        self._watch_stop.set()
