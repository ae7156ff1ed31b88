"""Clock sources: they only tell time; the engine (a ClockSink) decides what happens on a tick.

All sources speak MIDI clock's language, 24 pulses per quarter note (6 per 16th):
``start(sixteenth)``, ``pulse(t)``, ``stop()``, ``continue_()``, ``locate(sixteenth)``.
An internal clock, a MIDI clock input and Ableton Link (link_clock.py) are interchangeable.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Protocol

PPQN = 24
PULSES_PER_16TH = PPQN // 4
LOCK_PULSES = PPQN  # pulses averaged before the clock follower predicts (one beat)
# a pulse further than this from the prediction means the tempo jumped: the follower locks again
RELOCK_SHARE, RELOCK_MIN_S = 0.15, 0.0015
MAX_LOST = 3  # pulses found lost at one gap; a longer gap is the clock pausing (it is measured again)


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

    def __enter__(self) -> ThreadedClock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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

    Pulses are placed by time, not only counted. Each one goes to its slot on the clock's grid, the
    pulses lost on the way (JACK drops a late cycle's MIDI) are given to the sink in their place and
    copies (JACK repeats a cycle's MIDI) are dropped, so the engine's 16ths never slip:

    - **Locking** (a take's first beat, or after a tempo jump or a pause): the tempo comes from the
      pulses' gaps (their median once there are three, then the line fitted through the pulses at
      their slots), so a gap or a copy among the first pulses is found once the fit arrives, and the
      count is put right then (pulses given late, or the next one held back): no 16th skipped or
      doubled. The take's first pulse belongs at Start's (or Continue's) own time: a pulse that comes
      most of an interval or more after it means the first ones were lost.
    - **Predicting**: once a beat fits a line, a second-order delay-locked loop (as JACK and Ableton
      Link filter time) predicts each next pulse, so the engine sends a 16th on its predicted tick,
      free of the MIDI driver's jitter. Each pulse goes to the nearest slot; one far from every slot
      (a late JACK cycle) is let pass without moving the filter; two in a row, or two gaps in a row,
      mean the tempo jumped: locking again. A take started while the tempo is known (the last take's,
      or a clock running while stopped) predicts from its first pulse.
    - **Transport**: Start, Stop, Continue and Song Position Pointer go to the sink. A clock that comes
      back after silence at song position 0 (or none) without a Start (the Start was lost on the way)
      is joined at the next bar line once it has run steadily for a beat, and ``notes`` says so. After
      a song position elsewhere the sender's Continue is awaited (jack_midi_clock sends it up to 2 s
      after the clock, when the transport gets there). A clock that ran on through Stop (a DAW's clock
      while stopped) only gives its tempo: nothing plays before Start. ``status`` says what it waits for.
    - A watchdog pauses the sink (which releases its notes) when pulses stop arriving while playing;
      the next pulse resumes it.
    """

    def __init__(self, sink: ClockSink, dropout_s: float = 0.25, bandwidth: float = 0.01,
                 bar_pulses: int = 16 * PULSES_PER_16TH):
        self.sink = sink
        self.dropout_s = dropout_s
        self.bar_pulses = bar_pulses  # a bar's pulses: where a clock without Start is joined
        # DLL gains for a bandwidth given as a fraction of the pulse rate (0.01: settles in ~16 pulses)
        omega = 2 * math.pi * bandwidth
        self.b, self.c = math.sqrt(2) * omega, omega * omega
        self.interval: float | None = None  # filtered seconds per pulse (kept from take to take)
        self.predicted: float | None = None  # filtered time of the next pulse; None while locking
        self.last_pulse: float | None = None  # when the last pulse was seen
        self.lost_pulses = 0
        self.doubled_pulses = 0  # copies of a pulse, ignored
        self.joined = 0  # takes joined without a Start
        self.status = ""  # what the console shows beside the tempo ("waiting for Start", ...)
        self.notes: collections.deque[str] = collections.deque(maxlen=16)  # lines for the log (play prints them)
        self._times: list[float] = []  # when the pulses since locking began came
        self._given = 0  # pulses given for them (to the sink, or counted while stopped)
        self._anchor: float | None = None  # when the take's Start or Continue came: where its first pulse belongs
        self._owed = 0  # pulses counted as lost at the last pulse (a late one shows up right after)
        self._strayed = False  # the last pulse was far from every slot (a second one relocks)
        self._on_grid_t: float | None = None  # the last pulse on its slot while predicting
        self._since: list[float] = []  # the pulses since it (strays and copies)
        self._given_since = 0  # and the pulses given for them
        self._scatter = 0.0  # mean distance of pulses from their predicted slots, seconds
        self.running = False
        self.dropped = False
        self._song_position = 0  # 16ths: the last Song Position Pointer (where a clock without Start is)
        self._idle_pulses = 0  # pulses since the clock came back without a Start
        self._came_back = False  # the clock began after silence while stopped (not a clock running while stopped)
        self._heard = time.perf_counter()  # the last time the clock's port was heard from (or opened)
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
            if msg.type != "clock":
                self._heard = t
            if msg.type == "clock":
                self._pulse(t)
            elif msg.type in ("start", "continue"):
                self._take(t)
                if msg.type == "start":
                    self.sink.start(0, t)
                else:
                    self.sink.continue_(t)
            elif msg.type == "stop":
                self.running, self._came_back, self._idle_pulses = False, False, 0
                self.status = ""
                self.sink.stop()
            elif msg.type == "songpos":  # Song Position Pointer counts 16ths (MIDI beats)
                self._song_position, self._idle_pulses = msg.pos, 0
                self.sink.locate(msg.pos)

    def _take(self, t: float) -> None:
        """A take begins (Start, Continue): its first pulse belongs at ``t``. A clock that ran on while stopped
        keeps its filter; one that was silent is measured from the take's first pulse, by the last take's tempo."""
        self.running, self.dropped, self.status = True, False, ""
        self._came_back, self._idle_pulses = False, 0
        clock_ran_on = self.predicted is not None and t - self.last_pulse < min(self.dropout_s,
                                                                                 (MAX_LOST + 1) * self.interval)
        if not clock_ran_on:
            self._relock()
            self._anchor = t

    # ---- pulses ------------------------------------------------------------------------------
    def _pulse(self, t: float) -> None:
        gap = t - self.last_pulse if self.last_pulse is not None else None
        if self.predicted is not None and (self.dropped or gap is None or gap >= (MAX_LOST + 1) * self.interval):
            self._relock()  # the clock paused (or its pulses were held up): measure again from here
        give = self._lock_pulse(t) if self.predicted is None else self._place(t, gap)
        self.last_pulse = t
        if give == 0:
            return
        if not self.running:
            self._idle(t, give, (gap is None or gap > self.dropout_s) and t - self._heard > self.dropout_s)
            return
        if self.dropped:
            self.dropped = False
            self.sink.continue_(t)
        self._give(t, give)

    def _give(self, t: float, give: int) -> None:
        """Pass a pulse on, after the ``give - 1`` lost before it (so the 16th count stays right)."""
        locked = self.predicted is not None  # else no prediction: the engine plays on the tick
        interval = self.interval or 0.0
        now = self.predicted - interval if locked else t
        for k in range(give - 1, 0, -1):
            self.sink.pulse(now - k * interval, now - (k - 1) * interval if locked else None)
        self.sink.pulse(now, self.predicted)

    def _place(self, t: float, gap: float) -> int:
        """A pulse while predicting: to its nearest slot. Returns how many pulses to give (0: a copy)."""
        err = t - self.predicted
        tolerance = self._tolerance()
        k = round(err / self.interval)
        early_after_loss = self._owed and gap < (1 - RELOCK_SHARE) * self.interval and err < -tolerance
        if early_after_loss or (k == -1 and abs(err + self.interval) < tolerance):
            self._since.append(t)
            return self._copy()  # in the slot of the pulse just counted: the "lost" one was only late, or a copy
        missed = 0
        if 1 <= k <= MAX_LOST:  # nearest a later slot: the pulses between were lost on the way
            if self._owed:  # ...but so was the last one's: not loss, a slower tempo
                return self._lock_again(t)
            missed, err = k, err - k * self.interval
        if abs(err) < 0.5 * self.interval:  # how far pulses scatter about their slots (USB, a busy DAW)
            self._scatter += 0.05 * (abs(err) - self._scatter)
        off_grid = abs(err) > tolerance
        if off_grid and self._strayed and not missed:  # two in a row: a tempo jump (a late pulse is one)
            return self._lock_again(t)
        now = self.predicted + missed * self.interval  # the slot this pulse goes to
        if off_grid:  # one late pulse (a late JACK cycle): its slot, without moving the filter
            self._strayed = True
            self.predicted = now + self.interval
            self._since.append(t)
            self._given_since += 1 + missed
        else:
            self._strayed = False
            self.predicted = now + self.interval + self.b * err
            self.interval += self.c * err
            self._on_grid(t)
        self.lost_pulses += missed
        self._owed = missed
        return 1 + missed

    def _on_grid(self, t: float) -> None:
        """A pulse on its slot: a tempo jump after it is measured from here."""
        self._on_grid_t, self._since, self._given_since = t, [], 0

    def _lock_again(self, t: float) -> int:
        """The tempo jumped: lock again from the last pulse that was on the grid, the ones since placed anew by
        the new tempo once it is known (at a change of tempo jack_midi_clock drops a pulse of its own)."""
        seed, since, given = self._on_grid_t, self._since, self._given_since
        self._relock()
        if seed is not None:
            self._times, self._given = [seed, *since], 1 + given
        return self._lock_pulse(t)

    def _lock_pulse(self, t: float) -> int:
        """A pulse while locking: to its slot by time once the gaps give a tempo. Returns how many pulses to
        give now: more than one where pulses were found lost, none for a copy or one counted already."""
        times = self._times
        times.append(t)
        if len(times) == 1 and self._anchor is not None and self.interval:  # a take with a known tempo
            first = self._first_slot(t, self.interval)
            self.predicted, self._strayed, self._owed = t + self.interval, False, first
            self._on_grid(t)
            self.lost_pulses += first
            self._given = 1 + first
            return 1 + first
        slots, line = self._slots()
        if line is not None:
            a, b, spread = line
            self.interval = b
            target = self._first_slot(times[0], b) + slots[-1] + 1
        else:  # no tempo yet, or pulses far off any line (a burst held up on the way): one slot each
            target = self._given + 1
            if len(times) >= 2 and times[-1] > times[0]:
                self.interval = (times[-1] - times[0]) / (len(times) - 1)
        give = target - self._given
        if give <= 0:
            give = self._copy()
        else:
            self.lost_pulses += give - 1
            self._owed = give - 1
        self._given += give
        if len(times) >= LOCK_PULSES:
            if line is None:  # a beat of pulses at one time, or far off any line: measure again from here
                self._relock()
            else:  # locked: from here on the DLL filters, from where the line puts the next pulse
                self._scatter = spread
                self.predicted = times[0] + a + b * (slots[-1] + 1)
                self._on_grid(t)
        return give

    def _first_slot(self, t: float, interval: float) -> int:
        """The slot of a take's first pulse that came at ``t``: 0 unless it came most of an interval or more
        after Start (or Continue), the ones before it being lost; 0 too where no take began (a relock), and
        where it came more than MAX_LOST intervals after (a sender that waits before its first pulse)."""
        if self._anchor is None:
            return 0
        slot = int((t - self._anchor) / interval + 0.25)
        return slot if 0 <= slot <= MAX_LOST else 0

    def _slots(self) -> tuple[list[int], tuple[float, float, float] | None]:
        """The locking pulses' slots from their gaps, and the line t = a + b * slot through them (a, b, the mean
        distance of a pulse from it), once three gaps give a tempo and the pulses lie near the line. A gap
        counts as a copy or as lost pulses only where it clearly is one, by how far pulses scatter."""
        times = self._times
        if len(times) < 4:
            return list(range(len(times))), None
        gaps = sorted(times[i] - times[i - 1] for i in range(1, len(times)))
        interval = 0.5 * (gaps[(len(gaps) - 1) // 2] + gaps[len(gaps) // 2])  # their median
        spread, line = 0.1 * interval, None
        for _ in range(2):  # slots by the median gap, then by the line through them
            if interval < 1e-4:  # pulses 0.1 ms apart: a held-up burst, no tempo
                return list(range(len(times))), None
            copy, lost = max(0.5 * interval - 2 * spread, 0.2 * interval), 1.5 * interval + 2 * spread
            slots = [0]
            for i in range(1, len(times)):
                gap = times[i] - times[i - 1]
                steps = 0 if gap < copy else min(round(gap / interval), MAX_LOST + 1) if gap > lost else 1
                slots.append(slots[-1] + steps)
            line = _fit(slots, times)
            if line is None or line[2] >= 0.2 * line[1]:  # far off any line
                return list(range(len(times))), None
            interval, spread = line[1], line[2]
        return slots, line

    def _copy(self) -> int:
        """A pulse in the slot of one already counted: the "lost" one only came late, or a copy of the last."""
        if self._owed:
            self._owed -= 1
            self.lost_pulses -= 1
        else:
            self.doubled_pulses += 1
        return 0

    def _tolerance(self) -> float:
        """How far from its slot a pulse may come and still be that slot's: wider where pulses scatter (three
        times their mean distance from the prediction), never so wide that two slots meet."""
        return min(max(RELOCK_SHARE * self.interval, RELOCK_MIN_S, 3 * self._scatter), 0.4 * self.interval)

    def _relock(self) -> None:
        """Forget the phase (no predictions) and measure the tempo again from the next pulse."""
        self._times, self._given, self.predicted, self._strayed, self._anchor = [], 0, None, False, None
        self._on_grid_t, self._since, self._given_since = None, [], 0

    # ---- a clock without Start -------------------------------------------------------------------
    def _idle(self, t: float, give: int, came_back: bool) -> None:
        """A pulse while stopped. A clock that came back after silence is a take whose Start was lost: once it
        has run for a beat, it is joined at the next bar line (from the last song position). Any other is a
        clock running while stopped: it only gives the tempo."""
        if came_back:
            self._came_back, self._idle_pulses = True, 0
        if not self._came_back:
            self.status = "waiting for Start"
            return
        if self._song_position:  # the sender moved on and will say Continue there (jack_midi_clock: up to 2 s on)
            self.status = "waiting for Continue"
            return
        first = self._idle_pulses
        self._idle_pulses += give
        position = self._song_position * PULSES_PER_16TH + first  # the clock's pulse count at the first given
        for k in range(give):
            pulse = position + k
            if self._idle_pulses - (give - 1 - k) > LOCK_PULSES and pulse % self.bar_pulses == 0:
                self._join(t, pulse, give - k)
                return
        self.status = "no Start: joining at the next bar"

    def _join(self, t: float, pulse: int, give: int) -> None:
        """Play from ``pulse`` (a bar line) as if Start had come there."""
        sixteenth = pulse // PULSES_PER_16TH
        self.running, self._came_back = True, False
        self.joined += 1
        self.status = f"no Start, joined bar {pulse // self.bar_pulses + 1}"  # until the next Start or Stop
        self.notes.append(f"no Start came with the clock: joined at bar {pulse // self.bar_pulses + 1} "
                          f"(16th {sixteenth})")
        self.sink.start(sixteenth, t)
        self._give(t, give)

    def _watch(self) -> None:
        while not self._watch_stop.wait(0.02):
            with self._lock:
                late = self.last_pulse is not None and time.perf_counter() - self.last_pulse > self.dropout_s
                if self.running and not self.dropped and late:
                    self.dropped = True
                    self.sink.stop()

    def close(self) -> None:
        self._watch_stop.set()

    def __enter__(self) -> MidiClockFollower:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fit(slots: list[int], times: list[float]) -> tuple[float, float, float] | None:
    """The least-squares line t - times[0] = a + b * slot: (a, b, the mean distance of a pulse from it), or None
    without a tempo (fewer than 3 slots, or all at one time)."""
    n = len(slots)
    t0 = times[0]
    sx = sum(slots)
    sy = sum(t - t0 for t in times)
    sxx = sum(s * s for s in slots)
    sxy = sum(s * (t - t0) for s, t in zip(slots, times))
    syy = sum((t - t0) ** 2 for t in times)
    den = n * sxx - sx * sx
    if n < 3 or den <= 0:
        return None
    b = (n * sxy - sx * sy) / den
    if b < 1e-4:  # pulses 0.1 ms apart: a held-up burst, no tempo
        return None
    a = (sy - b * sx) / n
    var = max((syy - a * sy - b * sxy) / n, 0.0)
    return a, b, 0.8 * math.sqrt(var)  # (the mean distance is about 0.8 standard deviations)
