"""The Engine: a clock sink that sends each 16th on its pulse and steps the model for the next one.

On each 16th's pulse it sends the notes it prepared, then asks its worker thread to step the model
once for the next 16th (one step of lookahead). The clock's thread (for an external clock, the MIDI
driver's callback: JACK's process thread) never runs the model itself. Note-ons and note-offs come
from the note state: a note that stops, or re-articulates, gets its note-off first. ``release_all``
(on Stop, on close, on any error path) sends a note-off for every sounding note, then CC 123, no more at once
than the port carries in one JACK period; stopped, it sends them again RELEASE_AGAIN_S later, as nothing
confirms that they got through (JACK drops the MIDI of a cycle its client was late for).

    with Engine(cell, port, controls, EngineSettings(...)) as engine:  # open(): warm-up, threads
        clock.run()                                                   # the clock drives it
    # close(): every note released
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Callable

import mido
import numpy as np

from ..clock import PULSES_PER_16TH
from ..steering.cc_map import CCMap
from ..steering.controls import Controls
from ..steering.generation import AntiSilence, hear, leave_to_player, seed_step
from ..steering.harmony import HarmonyFollower, harmony_bias
from ..music.representation import LOW_NOTE, N_NOTES, PLAY
from .notes import SoundingNotes
from .sender import Chunk, Sender
from .settings import EngineSettings

RELEASE_AGAIN_S = 0.03  # a release on stopping goes again this long after (a dozen JACK periods and more)


class Engine:
    def __init__(self, cell, port, controls: Controls | None = None, settings: EngineSettings = EngineSettings(),
                 recorder=None, on_bar: Callable[[dict], None] | None = None, prime: np.ndarray | None = None,
                 cc_map: CCMap | None = None, harmony: HarmonyFollower | None = None):
        self.cell, self.port = cell, port
        self.controls = controls or Controls()
        self.cc_map = cc_map or CCMap()  # which knob moves which control (MIDI learn changes it)
        self.settings = settings
        self.recorder, self.on_bar = recorder, on_bar
        self.prime = prime  # (P, 78, 2): heard before the first 16th, not played
        self.rng = np.random.default_rng(settings.seed)
        self.rule = AntiSilence(self.controls.anti_silence)
        self.lock = threading.RLock()
        # model state: the last step's notes (what the model sees) and the time-axis LSTM state
        self.notes = seed_step()  # (78, 2)
        self.state = np.zeros((N_NOTES, cell.state_size), np.float32)
        self.noise = np.zeros((N_NOTES, 2), np.float32)
        self.seen = np.zeros((N_NOTES, 2), np.float32)  # what a solo model is fed: its notes and the player's
        self.part = np.zeros((N_NOTES, 2), np.float32)  # what a model that listens hears of the player (held, struck)
        self.open_bias = np.zeros(N_NOTES, np.float32)  # the play bias less the player's pitches (leave_to_player)
        self.meter = np.array(settings.meter, np.int64)  # (2,) [16ths per bar, 16ths per beat]
        self.bar_steps, self.beat_steps = int(settings.meter[0]), int(settings.meter[1])
        self.listens = bool(getattr(cell, "listens", False))
        self.knows_chords = bool(getattr(cell, "chords", False))
        # the chord of each 16th (a chart, the chord track, the player's chord, the model's plan)
        self.harmony = harmony if harmony is not None else HarmonyFollower(plans=self.knows_chords, seed=settings.seed)
        self.chord_held = np.zeros(N_NOTES, bool)  # the notes held on the chord track
        self.harmony_out = np.zeros(N_NOTES, np.float32)  # the play bias with the harmony control applied
        # the prepared 16th
        self.next_notes = np.zeros((N_NOTES, 2), np.float32)
        self.next_probs = np.zeros((N_NOTES, 2), np.float32)
        self.probs = np.zeros((N_NOTES, 2), np.float32)  # of the 16th now sounding (for the UI)
        self.out = SoundingNotes()  # what is sounding at the port, and on which channel
        # the player's notes from the input port, merged into the model's view at the next step
        self.human_held = np.zeros(N_NOTES, bool)
        self.human_struck = np.zeros(N_NOTES, bool)
        self._human_lock = threading.Lock()  # the input's thread writes them, the worker reads and clears them
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
        self.sender = Sender(self._send, self.lock, lambda: self.playing, settings.burst_limit, settings.burst_gap_s)
        self._scheduled = -1  # the last 16th already queued to be sent early
        self._early_chunks: list[Chunk] = []  # its chunks
        self._next_tick: float | None = None
        self._prepared_for: int | None = None
        self._want = 0  # the 16th the worker should prepare
        self._delay = 0.0  # and how long it waits before it starts
        self._work = threading.Event()
        self._ready = threading.Event()
        self._closing = False
        self._opened = False

    @property
    def sounding(self) -> np.ndarray:
        """(78,) bool: the notes sounding at the port."""
        return self.out.on

    # ---- life cycle ----------------------------------------------------------------------------
    def open(self) -> Engine:
        """Warm the model up, hear the prime, prepare the first 16th and start the threads. Returns self."""
        if self._opened:
            return self
        self._opened = True
        self._warm_up()
        if self.prime is not None and len(self.prime):
            self.notes, self.state = hear(self.cell, self.prime, self.state, self.rule, self.controls.temperature,
                                          self.controls.play_bias)
        self._prepare(0)
        self._ready.set()
        threading.Thread(target=self._worker, name="model-step", daemon=True).start()
        self.sender.open()  # (idle but for releases sent again, unless the settings send later or in bursts)
        return self

    def close(self) -> None:
        with self.lock:
            self._closing = True
            self.playing = False
            self.release_all(again=True)
        self._work.set()
        self.sender.close()

    def __enter__(self) -> Engine:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _warm_up(self, steps: int = 8) -> None:
        """Pay onnxruntime's first-run costs now, not on the first 16th (and time the last steps)."""
        state = np.zeros_like(self.state)
        times = []
        for i in range(steps):
            t0 = time.perf_counter()
            self.cell(self.notes, np.int64(i), state, self.noise, np.float32(1), np.float32(1), self.controls.play_bias)
            times.append(time.perf_counter() - t0)
        self.step_p99_s = max(times[steps // 2 :])  # until the worker has timed 16 steps of its own

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
        """Stop and release; the step of 16th 0 is prepared meanwhile, so that the first 16th of the next Start
        (always from the top) is ready on its pulse. A Continue prepares its own 16th again."""
        with self.lock:
            self.playing = False
            self.release_all(again=True)
            if not self._closing:
                self._request(sixteenth=0)

    def continue_(self, t: float) -> None:
        """Play on from where Stop left off, to the pulse: a DAW stopped in the middle of a 16th continues in
        the middle of it (a song position since then has moved to a 16th's start: locate)."""
        with self.lock:
            if self._closing:
                return
            self.playing = True
            self._scheduled = -1
            if self._prepared_for != self.sixteenth and self._want != self.sixteenth:
                self._request()

    def pulse(self, t: float, next_t: float | None) -> None:
        with self.lock:
            if not self.playing:
                return
            early = self.settings.early
            on_boundary = self.pulses % PULSES_PER_16TH == 0
            self.pulses += 1
            if not on_boundary:
                if early:
                    self._retime(t, next_t)
                return
            dt16 = (next_t - t) * PULSES_PER_16TH if next_t else None
            if dt16 is not None:
                self.tempo_bpm = 15.0 / dt16  # four 16ths per beat
            if not self._ready.is_set():
                self.late += 1  # the step was not ready on its tick
                if not self._ready.wait(self.settings.max_wait_s):  # still not: hold what sounds, move on
                    self.sixteenth += 1
                    self._request()
                    return
            if self._scheduled == self.sixteenth:
                self._flush_early()  # queued to go at its predicted tick: whatever has not gone, goes now
            elif self.settings.offset_s > 0:
                self.sender.at(t + self.settings.offset_s, self._messages())
            else:
                self.sender.now(self._messages())  # not sent early (first 16th, or no tempo yet): play on the tick
            played = self.sixteenth
            self.history.append((played, self.next_notes[:, 0] > 0.5, self.human_held.copy()))
            self.sixteenth += 1
            if early:
                self._retime(t, next_t)
            self._request(delay=self._step_delay(dt16))
            if (played + 1) % self.bar_steps == 0:
                self._bar_done(played // self.bar_steps + 1)

    def _step_delay(self, dt16: float | None) -> float:
        """How long after a tick the next 16th's step starts. A solo model: quiet_share of a 16th (the notes
        just sent get through the MIDI driver first). A model that listens: as late as the step's measured
        p99 allows, twice over plus margin_s (and any early sending) before the next tick, so a chord struck
        just before the tick is heard in the 16th it sounds with."""
        if dt16 is None:
            return 0.0
        quiet = self.settings.quiet_share * dt16
        if not (self.listens and self.settings.late_step):
            return quiet
        lead = 2 * self.step_p99_s + self.settings.margin_s + max(0.0, -self.settings.offset_s)
        return max(quiet, dt16 - lead)

    def _step_p99_s(self) -> float:
        """Measure the step's p99 in seconds over the last 256 steps (kept in step_p99_s; the warm-up's until
        there are 16). The worker calls it every 16 steps, after the step is handed over: never on a tick."""
        if len(self.step_ms) >= 16:
            recent = list(itertools.islice(reversed(self.step_ms), 256))
            self.step_p99_s = float(np.percentile(recent, 99)) / 1e3
        return self.step_p99_s

    # ---- the worker ------------------------------------------------------------------------
    def _request(self, delay: float = 0.0, sixteenth: int | None = None) -> None:
        """Ask the worker for the step of ``sixteenth`` (``self.sixteenth`` if None), to start after ``delay``
        seconds (called with the lock held)."""
        self._ready.clear()
        self._want, self._delay = self.sixteenth if sixteenth is None else sixteenth, delay
        self._work.set()

    def _worker(self) -> None:
        timed = 0  # steps timed so far
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
                if self.settings.early:
                    self._queue_early(want)
                self._ready.set()
            timed += 1
            if self.listens and timed % 16 == 0:  # the late step's lead follows the step time
                self._step_p99_s()

    def _queue_early(self, sixteenth: int) -> None:
        """The prepared 16th goes out at its predicted tick (offset_s before it, if negative)."""
        with self.lock:
            if self.playing and self._next_tick is not None and sixteenth == self.sixteenth:
                when = self._next_tick + min(self.settings.offset_s, 0.0)
                self._early_chunks = self.sender.at(when, self._messages())
                self._scheduled = sixteenth

    def _retime(self, t: float, next_t: float | None) -> None:
        """Each pulse refines the predicted tick of the coming 16th, and the time of what waits for it
        (a tempo that jumped means no prediction: it waits for the tick itself)."""
        left = PULSES_PER_16TH - (self.pulses - 1) % PULSES_PER_16TH  # pulses to the next 16th
        self._next_tick = t + left * (next_t - t) if next_t is not None else None
        offset = min(self.settings.offset_s, 0.0)
        when = self._next_tick + offset if self._next_tick is not None else float("inf")
        for k, chunk in enumerate(self._early_chunks):
            chunk.when = when + k * self.settings.burst_gap_s

    def _flush_early(self) -> None:
        """The tick came before the predicted time (the tempo rose): send what is still queued now."""
        msgs = []
        for chunk in self._early_chunks:
            if not chunk.sent:
                chunk.sent = True
                msgs += chunk.msgs
        self._early_chunks = []
        if msgs:
            self.sender.now(msgs)

    # ---- notes ---------------------------------------------------------------------------
    def _prepare(self, sixteenth: int) -> None:
        """Step the model once: the notes of 16th ``sixteenth`` from those of the one before."""
        c = self.controls
        self.rule.strength = c.anti_silence
        seen = self.notes
        with self._human_lock:
            track = np.flatnonzero(self.chord_held) + LOW_NOTE if self.settings.chord_channel is not None else None
            player = np.flatnonzero(self.human_held) + LOW_NOTE
            if self.listens:  # the player's part, apart from the model's own notes
                self.part[:, 0] = self.human_held | self.human_struck
                self.part[:, 1] = self.human_struck
                self.human_struck[:] = False
            elif self.human_held.any() or self.human_struck.any():  # a solo model hears them as its own
                seen = self.seen
                seen[:] = self.notes
                seen[:, 0] = np.maximum(seen[:, 0], self.human_held | self.human_struck)
                seen[:, 1] = np.maximum(seen[:, 1], self.human_struck)
                self.human_struck[:] = False
        self.rng.random(out=self.noise, dtype=np.float32)
        position = np.int64((sixteenth - 1) % self.bar_steps)  # the previous 16th's place in its bar
        bar, place = divmod(sixteenth, self.bar_steps)  # the 16th being prepared
        chord = self.harmony.choose(bar, place, self.bar_steps, track, player)  # (3, 12)
        heard = ((self.part, self.meter) if self.listens else ()) + ((chord,) if self.knows_chords else ())
        bias = leave_to_player(c.play_bias, self.part, self.open_bias) if self.listens and c.leave_players_notes \
            else c.play_bias
        if c.harmony > 0:
            on_beat = place % self.beat_steps == 0
            bias = harmony_bias(bias, chord, self.notes, c.harmony, on_beat, self.harmony_out, self.human_held)
        new, probs, state = self.cell(seen, position, self.state, self.noise, np.float32(self.rule.c),
                                      np.float32(c.temperature), bias, *heard)
        if self.knows_chords:
            self.harmony.after_step(self.cell.plan, place, self.beat_steps)
        self.next_notes[:] = new
        self.next_probs[:] = probs
        self.state = state  # the cell alternates two output buffers: no copy needed
        self.notes = self.next_notes.copy()
        self.rule.update(int(new[:, PLAY].sum()))
        self._prepared_for = sixteenth

    def _messages(self) -> list:
        """The note-offs and note-ons that turn what is sounding into the prepared 16th."""
        vel = self.controls.velocities(self.next_probs[:, 0])
        msgs = self.out.changes(self.next_notes, vel, self.controls.channel, self.settings.split)
        self.probs = self.next_probs.copy()
        return msgs

    def _send(self, msgs: list) -> None:
        with self.lock:
            for m in msgs:
                self._to_port(m)
                if self.port_lost and m.type == "note_on":
                    continue  # it did not sound: when the port is back, it is struck at the next 16th
                self.out.sent(m)
                if m.type == "note_on":
                    self.bar_notes += 1
                    self.sent_notes += 1
                if self.recorder is not None:
                    self.recorder.add(m, track=0)

    def release_all(self, again: bool = False) -> None:
        """Note-off for every sounding note, then CC 123 on every channel used, burst_limit at a time; ``again``
        (stopped: nothing new will sound), all once more RELEASE_AGAIN_S later, unless a Start comes first."""
        with self.lock:
            self.sender.drop_all()  # whatever the sender still holds is stale now
            channels = {self.controls.channel} | self.out.channels() | set(self.settings.split or ())
            offs = self.out.releases()
            for m in offs:  # released now, whenever the port gets the last of them
                self.out.sent(m)
                if self.recorder is not None:
                    self.recorder.add(m, track=0)
            all_off = [mido.Message("control_change", channel=int(ch), control=123, value=0) for ch in sorted(channels)]
            self.sender.release(offs + all_off, self._send_only, RELEASE_AGAIN_S if again else None)

    def _send_only(self, msgs: list) -> None:
        """To the port, nothing counted or recorded (all notes off; a release sent again)."""
        for msg in msgs:
            self._to_port(msg)

    def _to_port(self, msg) -> None:
        """One message to the port, unless it is lost; a port that raises is lost: nothing more sounds through it
        until the port watch finds it back."""
        try:
            if not self.port_lost:
                self.port.send(msg)
        except Exception:
            self.port_lost = True

    # ---- the player and the console ------------------------------------------------------
    def human(self, msg) -> None:
        """A message from the --input port: notes join the model's view, CCs move the controls."""
        in_range = msg.type in ("note_on", "note_off") and LOW_NOTE <= msg.note < LOW_NOTE + N_NOTES
        if in_range and msg.channel == self.settings.chord_channel:  # the chord track: the chord, not the part
            with self._human_lock:  # read by the worker with the player's notes
                self.chord_held[msg.note - LOW_NOTE] = msg.type == "note_on" and msg.velocity > 0
        elif in_range:
            with self._human_lock:
                if msg.type == "note_on" and msg.velocity > 0:
                    self.human_held[msg.note - LOW_NOTE] = True
                    self.human_struck[msg.note - LOW_NOTE] = True
                else:
                    self.human_held[msg.note - LOW_NOTE] = False
        elif msg.type == "control_change":
            self.cc_map.handle(self.controls, msg.channel, msg.control, msg.value)
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
        """The output port is back: clear whatever the synth may still hold (CC 123); the notes the model holds
        are struck again at the next 16th, as nothing sounds for them now."""
        with self.lock:
            self.port_lost = False
            self.release_all()

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
