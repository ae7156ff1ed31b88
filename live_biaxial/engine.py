"""The live engine: a clock sink that plays one 16th note at a time and never leaves a note hanging.

On each 16th's pulse it sends the notes it prepared, then asks its worker thread to step the
model once for the next 16th (one step of lookahead). The clock's thread (for an external
clock, the MIDI driver's callback: JACK's process thread) never runs the model itself. Note-ons and note-offs come from the note state: a note that
stops, or re-articulates, gets its note-off first. ``release_all`` (on Stop, on close, on any
error path) sends a note-off for every sounding note, then CC 123 (all notes off).
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

import mido
import numpy as np

from .clock import PULSES_PER_16TH
from .controls import Controls
from .generation import AntiSilence, hear, seed_step
from .representation import LOW_NOTE, N_NOTES, PLAY


@dataclass(slots=True)
class _Chunk:
    """Messages for the sender thread to send at ``when`` (which may move until they go)."""
    when: float
    epoch: int  # release_all's count when queued: a chunk of an older epoch is dropped
    msgs: list
    sent: bool = False


class Engine:
    def __init__(self, cell, port, controls: Controls | None = None, offset_s: float = 0.0,
                 recorder=None, seed: int = 0, on_bar: Callable[[dict], None] | None = None,
                 burst_limit: int = 0, burst_gap_s: float = 0.0007, send_early: bool = False,
                 prime: np.ndarray | None = None):
        self.cell = cell
        self.port = port
        self.controls = controls or Controls()
        self.offset_s = offset_s
        # Send each 16th at its predicted tick, or on the tick if that comes first: a negative
        # offset, or (send_early) a clock that predicts its ticks well (the MIDI clock follower's
        # DLL), so the notes do not wait for the tick to come through the MIDI driver.
        self._early = offset_s < 0 or (send_early and offset_s == 0)
        self.recorder = recorder
        self.on_bar = on_bar
        self.rng = np.random.default_rng(seed)
        self.rule = AntiSilence(self.controls.anti_silence)
        self.lock = threading.RLock()
        # model state: the last step's notes (what the model sees) and the time-axis LSTM state
        self.notes = seed_step()  # (78, 2)
        self.state = np.zeros((N_NOTES, cell.state_size), np.float32)
        self.noise = np.zeros((N_NOTES, 2), np.float32)
        # the prepared 16th
        self.next_notes = np.zeros((N_NOTES, 2), np.float32)
        self.next_probs = np.zeros((N_NOTES, 2), np.float32)
        self.probs = np.zeros((N_NOTES, 2), np.float32)  # of the 16th now sounding (for the UI)
        # what is sounding at the port, and on which channel
        self.sounding = np.zeros(N_NOTES, bool)
        self.sounding_channel = np.zeros(N_NOTES, np.int64)
        # the human's notes from the input port, merged into the model's view at the next step
        self.human_held = np.zeros(N_NOTES, bool)
        self.human_struck = np.zeros(N_NOTES, bool)
        self.sixteenth = 0  # index of the 16th to be played next
        self.pulses = 0  # pulses since start/locate
        self.playing = False
        self.port_lost = False
        self.step_ms: collections.deque = collections.deque(maxlen=2048)
        # the last 16ths for the console's piano roll: (16th, model notes (78,) bool, human notes (78,) bool)
        self.history: collections.deque = collections.deque(maxlen=256)
        self.late = 0
        self.bar_notes = 0
        self.sent_notes = 0
        self.tempo_bpm: float | None = None
        # JACK at small periods carries only ~8 MIDI events per period (a 128-byte port buffer at
        # 32 frames) and the rest is dropped: a larger burst goes out burst_limit at a time.
        self.burst_limit, self.burst_gap_s = burst_limit, burst_gap_s
        self._sender: queue.Queue | None = None
        self._scheduled = -1  # the last 16th already queued to be sent early
        self._early_chunks: list[_Chunk] = []  # its chunks
        self._next_tick: float | None = None
        self._epoch = 0  # bumped by release_all: queued chunks of an older epoch are dropped
        self._prepared_for: int | None = None
        self._want = 0  # the 16th the worker should prepare
        self._delay = 0.0  # and how long it waits before it starts
        # The step is a few ms of computation; started right on the tick, it delayed the notes just
        # sent in the MIDI driver (on JACK at 32-frame periods, by up to 4 ms: bench_timing.py).
        # So it starts this share of a 16th after the tick, which still leaves most of the 16th.
        self.quiet_share = 0.25
        self._work = threading.Event()
        self._ready = threading.Event()
        self._closing = False
        # How long the clock's thread may wait for a step that is not ready on its tick. Live, the
        # worker has a whole 16th; waiting here would stall the MIDI driver's thread, so a step
        # not ready within 2 ms is skipped (what sounds is held). Fake clocks that run flat out
        # set this high.
        self.max_wait_s = 0.002
        self._warm_up()
        if prime is not None and len(prime):  # (P, 78, 2): heard before the first 16th, not played
            self.notes, self.state = hear(cell, prime, self.state, self.rule, self.controls.temperature,
                                          self.controls.play_bias)
        self._prepare(0)
        self._ready.set()
        threading.Thread(target=self._worker, name="model-step", daemon=True).start()
        if offset_s or burst_limit or self._early:
            self._sender = queue.Queue()
            threading.Thread(target=self._send_loop, name="note-sender", daemon=True).start()

    def _warm_up(self, steps: int = 8) -> None:
        """Pay onnxruntime's first-run costs now, not on the first 16th."""
        state = np.zeros_like(self.state)
        for i in range(steps):
            self.cell(self.notes, np.int64(i), state, self.noise, np.float32(1), np.float32(1), self.controls.play_bias)

    # ---- the clock's calls -------------------------------------------------------------
    def start(self, sixteenth: int, t: float) -> None:
        with self.lock:
            if self._closing:
                return
            self.release_all()
            self.sixteenth, self.pulses, self.playing = sixteenth, 0, True
            self._scheduled = -1
            if self._prepared_for != sixteenth:  # usually ready already: Start must not delay the first 16th
                self._request()

    def locate(self, sixteenth: int) -> None:
        with self.lock:
            self.release_all()
            self.sixteenth, self.pulses = sixteenth, 0
            self._scheduled = -1
            self._request()

    def stop(self) -> None:
        with self.lock:
            self.playing = False
            self.release_all()

    def continue_(self, t: float) -> None:
        with self.lock:
            if self._closing:
                return
            self.playing, self.pulses = True, 0
            self._scheduled = -1

    def pulse(self, t: float, next_t: float | None) -> None:
        with self.lock:
            if not self.playing:
                return
            on_boundary = self.pulses % PULSES_PER_16TH == 0
            self.pulses += 1
            if not on_boundary:
                if self._early:
                    self._retime(t, next_t)
                return
            dt16 = (next_t - t) * PULSES_PER_16TH if next_t else None
            if dt16 is not None:
                self.tempo_bpm = 15.0 / dt16  # four 16ths per beat
            if not self._ready.is_set():
                self.late += 1  # the step was not ready on its tick
                if not self._ready.wait(self.max_wait_s):  # still not: hold what sounds, move on
                    self.sixteenth += 1
                    self._request()
                    return
            if self._scheduled == self.sixteenth:
                self._flush_early()  # queued to go at its predicted tick: whatever has not gone, goes now
            elif self.offset_s > 0:
                self._queue(t + self.offset_s, self._messages())
            else:
                self._send_now(self._messages())  # not sent early (first 16th, or no tempo yet): play on the tick
            played = self.sixteenth
            self.history.append((played, self.next_notes[:, 0] > 0.5, self.human_held.copy()))
            self.sixteenth += 1
            if self._early:
                self._retime(t, next_t)
            self._request(delay=self.quiet_share * dt16 if dt16 is not None else 0.0)
            if (played + 1) % 16 == 0:
                self._bar_done(played // 16 + 1)

    # ---- the worker ------------------------------------------------------------------------
    def _request(self, delay: float = 0.0) -> None:
        """Ask the worker for the step of ``self.sixteenth``, to start after ``delay`` seconds
        (called with the lock held)."""
        self._ready.clear()
        self._want, self._delay = self.sixteenth, delay
        self._work.set()

    def _worker(self) -> None:
        while True:
            self._work.wait()
            self._work.clear()
            if self._closing:
                return
            if self._delay:  # let the notes just sent get through the MIDI driver first
                time.sleep(self._delay)
            want = self._want
            t0 = time.perf_counter()
            self._prepare(want)
            self.step_ms.append((time.perf_counter() - t0) * 1e3)
            if want == self._want:  # else a Start/locate came meanwhile: the loop runs again
                if self._early:
                    self._queue_early(want)
                self._ready.set()

    def _queue_early(self, sixteenth: int) -> None:
        """The prepared 16th goes out at its predicted tick (offset_s before it, if negative)."""
        with self.lock:
            if self.playing and self._next_tick is not None and sixteenth == self.sixteenth:
                self._early_chunks = self._queue(self._next_tick + min(self.offset_s, 0.0), self._messages())
                self._scheduled = sixteenth

    def _retime(self, t: float, next_t: float | None) -> None:
        """Each pulse refines the predicted tick of the coming 16th, and the time of what waits for it
        (a tempo that jumped means no prediction: it waits for the tick itself)."""
        left = PULSES_PER_16TH - (self.pulses - 1) % PULSES_PER_16TH  # pulses to the next 16th
        self._next_tick = t + left * (next_t - t) if next_t is not None else None
        when = self._next_tick + min(self.offset_s, 0.0) if self._next_tick is not None else float("inf")
        for k, chunk in enumerate(self._early_chunks):
            chunk.when = when + k * self.burst_gap_s

    def _flush_early(self) -> None:
        """The tick came before the predicted time (the tempo rose): send what is still queued now."""
        msgs = []
        for chunk in self._early_chunks:
            if not chunk.sent:
                chunk.sent = True
                msgs += chunk.msgs
        self._early_chunks = []
        if msgs:
            self._send_now(msgs)

    # ---- notes ---------------------------------------------------------------------------
    def _prepare(self, sixteenth: int) -> None:
        """Step the model once: the notes of 16th ``sixteenth`` from those of the one before."""
        c = self.controls
        self.rule.strength = c.anti_silence
        seen = self.notes
        if self.human_held.any() or self.human_struck.any():
            seen = self.notes.copy()
            seen[:, 0] = np.maximum(seen[:, 0], self.human_held | self.human_struck)
            seen[:, 1] = np.maximum(seen[:, 1], self.human_struck)
            self.human_struck[:] = False
        self.rng.random(out=self.noise, dtype=np.float32)
        new, probs, state = self.cell(seen, np.int64(sixteenth - 1), self.state, self.noise,
                                      np.float32(self.rule.c), np.float32(c.temperature), c.play_bias)
        self.next_notes[:] = new
        self.next_probs[:] = probs
        self.state = state  # the cell alternates two output buffers: no copy needed
        self.notes = self.next_notes.copy()
        self.rule.update(int(new[:, PLAY].sum()))
        self._prepared_for = sixteenth

    def _messages(self) -> list:
        """The note-offs and note-ons that turn what is sounding into the prepared 16th."""
        play = self.next_notes[:, 0] > 0.5
        strike = play & (self.next_notes[:, 1] > 0.5)
        # a note re-struck or stopped is released first; a held note carries on
        offs = np.flatnonzero(self.sounding & (~play | strike))
        ons = np.flatnonzero(play & (strike | ~self.sounding))
        ch = self.controls.channel
        vel = self.controls.velocities(self.next_probs[:, 0])
        msgs = [mido.Message("note_off", channel=int(self.sounding_channel[n]), note=int(n) + LOW_NOTE) for n in offs]
        msgs += [mido.Message("note_on", channel=ch, note=int(n) + LOW_NOTE, velocity=int(vel[n])) for n in ons]
        self.probs = self.next_probs.copy()
        return msgs

    def _send(self, msgs: list) -> None:
        with self.lock:
            for m in msgs:
                try:
                    if not self.port_lost:
                        self.port.send(m)
                except Exception:  # the port went away: nothing more can sound through it
                    self.port_lost = True
                n = m.note - LOW_NOTE
                if m.type == "note_on":
                    self.sounding[n] = True
                    self.sounding_channel[n] = m.channel
                    self.bar_notes += 1
                    self.sent_notes += 1
                else:
                    self.sounding[n] = False
                if self.recorder is not None:
                    self.recorder.add(m, track=0)

    def _send_now(self, msgs: list) -> None:
        """Send on the spot; past burst_limit, the rest follows a period apart (sender thread)."""
        if not self.burst_limit or len(msgs) <= self.burst_limit:
            self._send(msgs)
            return
        self._send(msgs[: self.burst_limit])
        self._queue(time.perf_counter() + self.burst_gap_s, msgs[self.burst_limit :])

    def _queue(self, when: float, msgs: list) -> list[_Chunk]:
        """Send at a time: in chunks of burst_limit, a period apart. Returns the chunks."""
        size = self.burst_limit or len(msgs) or 1
        chunks = [_Chunk(when + (k // size) * self.burst_gap_s, self._epoch, msgs[k : k + size])
                  for k in range(0, len(msgs), size)]
        for chunk in chunks:
            self._sender.put(chunk)
        return chunks

    def _send_loop(self) -> None:
        while True:
            chunk = self._sender.get()
            if chunk is None:
                return
            while not chunk.sent and chunk.epoch == self._epoch:  # chunk.when may move (_retime) until it goes
                left = chunk.when - time.perf_counter()
                if left <= 0:
                    break
                if left > 0.0004:  # sleep in short slices, spin only the last 0.4 ms (a spin holds the GIL)
                    time.sleep(min(left - 0.0004, 0.002))
            with self.lock:  # checked under the lock: nothing slips out after a release_all
                if self.playing and chunk.epoch == self._epoch and not chunk.sent:
                    chunk.sent = True
                    self._send(chunk.msgs)

    def release_all(self) -> None:
        """Note-off for every sounding note, then CC 123 on every channel used."""
        with self.lock:
            self._epoch += 1  # whatever the sender still holds is stale now
            if self._sender is not None:
                while not self._sender.empty():
                    try:
                        self._sender.get_nowait()
                    except queue.Empty:
                        break
            channels = {self.controls.channel} | set(self.sounding_channel[self.sounding].tolist())
            offs = [mido.Message("note_off", channel=int(self.sounding_channel[n]), note=int(n) + LOW_NOTE)
                    for n in np.flatnonzero(self.sounding)]
            self._send(offs)
            for ch in sorted(channels):
                msg = mido.Message("control_change", channel=int(ch), control=123, value=0)
                try:
                    if not self.port_lost:
                        self.port.send(msg)
                except Exception:
                    self.port_lost = True

    def close(self) -> None:
        with self.lock:
            self._closing = True
            self.playing = False
            self.release_all()
        self._work.set()
        if self._sender is not None:
            self._sender.put(None)

    # ---- the human and the console ------------------------------------------------------
    def human(self, msg) -> None:
        """A message from the --input port: notes join the model's view, CCs move the controls."""
        if msg.type == "note_on" and msg.velocity > 0 and LOW_NOTE <= msg.note < LOW_NOTE + N_NOTES:
            self.human_held[msg.note - LOW_NOTE] = True
            self.human_struck[msg.note - LOW_NOTE] = True
        elif msg.type in ("note_off", "note_on") and LOW_NOTE <= msg.note < LOW_NOTE + N_NOTES:
            self.human_held[msg.note - LOW_NOTE] = False
        elif msg.type == "control_change":
            self.controls.from_cc(msg.control, msg.value)
            return
        else:
            return
        if self.recorder is not None:
            self.recorder.add(msg, track=1)

    def port_gone(self) -> None:
        """The output port went away: nothing sounds through it any more, so forget what was sounding."""
        with self.lock:
            self.port_lost = True
            self.release_all()  # sends nothing now; clears the sounding notes, so they re-strike when it returns

    def port_back(self) -> None:
        with self.lock:
            self.port_lost = False

    def panic(self) -> None:
        """All notes off now, without stopping."""
        self.release_all()

    def latency(self) -> tuple[float, float]:
        a = np.asarray(self.step_ms) if self.step_ms else np.zeros(1)
        return float(np.percentile(a, 50)), float(np.percentile(a, 99))

    def _bar_done(self, bar: int) -> None:
        p50, p99 = self.latency()
        info = {"bar": bar, "bpm": self.tempo_bpm, "notes": self.bar_notes, "late": self.late,
                "step_p50_ms": p50, "step_p99_ms": p99}
        self.bar_notes = 0
        if self.on_bar is not None:
            self.on_bar(info)


class Recorder:
    """What was played (track 0) and the human's notes (track 1), timed by the wall clock."""

    def __init__(self, path: str, bpm: float = 120.0):
        self.path = path
        self.bpm = bpm
        self.t0 = time.perf_counter()
        self.events: list[tuple[float, int, mido.Message]] = []

    def add(self, msg, track: int) -> None:
        self.events.append((time.perf_counter() - self.t0, track, msg))

    def save(self) -> None:
        tpb = 480
        tempo = mido.bpm2tempo(self.bpm)
        midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
        for track_no, name in ((0, "live-biaxial"), (1, "human")):
            track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
            if track_no == 0:
                track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
            last = 0
            for t, tr, msg in self.events:
                if tr != track_no:
                    continue
                tick = int(round(mido.second2tick(t, tpb, tempo)))
                track.append(msg.copy(time=max(0, tick - last)))
                last = max(last, tick)
            midi.tracks.append(track)
        midi.save(self.path)
