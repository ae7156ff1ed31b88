"""Ableton Link as a clock source: the session's beat grid, cut into MIDI clock's 24 pulses a beat.

Link shares a tempo and a beat phase between equal peers on the local network (Live, Bitwig, Reason,
many apps). This clock joins the session without touching its tempo (when two sessions meet, Link keeps
the older one's timeline, so a running session keeps its tempo; ``bpm`` only founds a session when it is
alone, and nothing here sets the tempo unless asked), plays whenever the session's transport plays
(start/stop sync), and starts each take on a bar line: the next time the session's beat phase over
``quantum`` beats is 0, so a 16th of ours falls on every 16th of the session and our bar on its bar.
A tempo change from the console goes to the whole session, as do play and stop.

Link is GPL (the binding, LinkPython-extern, links Ableton's Link library); it is the optional extra
``pip install "live-biaxial[link]"``, imported only here and only when ``--clock link`` is asked for.
"""

from __future__ import annotations

import math
import time

from .clock import PPQN, PULSES_PER_16TH, ClockSink, ThreadedClock, sleep_until
from .errors import LiveBiaxialError

RECHECK_S = 0.004  # while waiting for a pulse, read the session again this often (a tempo change, a stop)
ALONE_AFTER_S = 2.0  # no peer found in this time (discovery takes well under a second): a session of one, which starts playing by itself


def link_module():
    try:
        import link
    except ImportError as err:
        raise LiveBiaxialError("--clock link needs Ableton Link: pip install \"live-biaxial[link]\" "
                               "(GPL-licensed, an optional extra)") from err
    return link


class LinkClock(ThreadedClock):
    """Pulses on the beat grid of a Link session, for a ClockSink (the engine)."""

    thread_name = "link-clock"

    def __init__(self, sink: ClockSink, bpm: float = 120.0, quantum: float = 4.0, start_alone: bool = True,
                 join: bool = True):
        """join=False: a peer that does not go on the network (yet); ``link.enabled = True`` joins."""
        if not quantum > 0:
            raise LiveBiaxialError(f"--quantum {quantum:g}: a bar of at least one beat, e.g. 4")
        super().__init__(sink)
        self.quantum = float(quantum)
        self.start_alone = start_alone
        self.link = link_module().Link(min(300.0, max(20.0, float(bpm))))
        self.link.startStopSyncEnabled = True
        self.link.enabled = join
        self._clock = self.link.clock()
        self._joined = time.perf_counter()
        self.relocations = 0  # times the session's beat jumped (a peer re-mapped it) and we moved with it

    # ---- what the console and the play command read and set ---------------------------------
    @property
    def bpm(self) -> float:
        return self.link.captureAppSessionState().tempo()

    @property
    def peers(self) -> int:
        return self.link.numPeers()

    def label(self) -> str:
        peers = self.peers
        return f"Link {self.bpm:.1f} BPM, {peers} peer{'' if peers == 1 else 's'}, bar of {self.quantum:g} beats"

    def set_bpm(self, bpm: float) -> None:
        """A new tempo for the whole session, from now on."""
        state = self.link.captureAppSessionState()
        state.setTempo(min(300.0, max(20.0, float(bpm))), self._clock.micros())
        self.link.commitAppSessionState(state)

    def transport(self, play: bool) -> None:
        """Start or stop the session's transport, for every peer that syncs start and stop. A start is
        quantized: with peers, it begins on the session's next bar line."""
        state = self.link.captureAppSessionState()
        now = self._clock.micros()
        if play:  # bar 1 in 50 ms (time to prepare it) when alone; with peers, at the session's next bar line
            state.setIsPlayingAndRequestBeatAtTime(True, now + 50_000, 0.0, self.quantum)
        else:
            state.setIsPlaying(False, now)
        self.link.commitAppSessionState(state)

    # ---- the clock's thread ------------------------------------------------------------------
    def _perf(self, micros: float) -> float:
        """Link's clock (microseconds, the system's monotonic raw clock) -> perf_counter seconds. Read anew
        each time: the two clocks are slewed apart by NTP at up to 0.05%."""
        a = time.perf_counter()
        m = self._clock.micros()
        b = time.perf_counter()
        return micros * 1e-6 + (a + b) / 2 - m * 1e-6

    def _first_bar(self, state) -> float:
        """The beat our take starts on: the session's start if it is a bar line still ahead, else the next bar line."""
        q = self.quantum
        now = self._clock.micros() + 2000  # a pulse needs a little time to prepare
        start = max(state.timeForIsPlaying(), now)
        beat, phase = state.beatAtTime(start, q), state.phaseAtTime(start, q)
        return beat - phase + (0.0 if phase < 1e-4 else q)  # on a bar line: there; else the next one

    def run(self, sixteenths: int | None = None) -> None:
        """Play in the calling thread until stop() (or for a number of 16ths): whenever the session plays."""
        limit = None if sixteenths is None else sixteenths * PULSES_PER_16TH
        played = 0
        while not self._stop.is_set() and (limit is None or played < limit):
            if not self._wait_for_play():
                break
            played += self._take(None if limit is None else limit - played)
        if self._stop.is_set() or limit is not None:
            self.sink.stop()

    def _wait_for_play(self) -> bool:
        """Until the session plays (True) or stop() (False). Alone in a session for ALONE_AFTER_S, it starts it."""
        while not self._stop.is_set():
            state = self.link.captureAppSessionState()
            if state.isPlaying():
                return True
            if self.start_alone and self.link.numPeers() == 0 and time.perf_counter() - self._joined > ALONE_AFTER_S:
                self.transport(True)
                self.start_alone = False  # once: after that the session's transport (or the console) decides
            self._stop.wait(RECHECK_S)
        return False

    def _take(self, limit: int | None) -> int:
        """Pulses from the next bar line while the session plays; returns how many were sent."""
        q = self.quantum
        state = self.link.captureAppSessionState()
        first = self._first_bar(state)
        self.sink.start(0, self._perf(state.timeAtBeat(first, q)))
        k = 0  # pulses since the take's first bar line
        while not self._stop.is_set() and (limit is None or k < limit):
            beat = first + k / PPQN
            while True:  # wait for pulse k, reading the session again every few ms
                state = self.link.captureAppSessionState()
                if not state.isPlaying():
                    self.sink.stop()
                    return k
                t = self._perf(state.timeAtBeat(beat, q))
                left = t - time.perf_counter()
                if left <= RECHECK_S or self._stop.is_set():
                    break
                self._stop.wait(min(left - RECHECK_S / 2, RECHECK_S))
            if self._stop.is_set():
                break
            late_by = -left
            sixteenth_s = 15.0 / state.tempo()
            if late_by > sixteenth_s:  # the session's beat jumped ahead (or we stalled): go where it is now
                now_beat = state.beatAtTime(self._clock.micros(), q)
                s = math.floor((now_beat - first) * 4) + 1
                self.sink.locate(s)
                self.relocations += 1
                k = s * PULSES_PER_16TH
                continue
            sleep_until(t)
            state = self.link.captureAppSessionState()
            if not state.isPlaying():  # stopped in the last few ms: this pulse is no longer the session's
                self.sink.stop()
                return k
            self.sink.pulse(t, self._perf(state.timeAtBeat(beat + 1.0 / PPQN, q)))
            k += 1
        return k

    def close(self) -> None:
        """End this clock and leave the session (it plays on for the others)."""
        self.stop()
        self.link.enabled = False
