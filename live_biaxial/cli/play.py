"""`live-biaxial play` and `live-biaxial ports`: wire model, ports, clock and engine together."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..clock import PULSES_PER_16TH, InternalClock, MidiClockFollower, SinkTap
from ..engine import Engine, EngineSettings, Recorder
from ..errors import LiveBiaxialError
from ..model_file import Cell
from ..steering.cc_map import CCMap, default_path
from ..steering.controls import TEMPERATURE_HELP, Controls, temperature_or_own
from ..ports import APIS, PortWatch, backend, open_input, open_output, system_name
from .options import add_harmony_args, add_key_args, add_meter_arg, harmony_of, key_of_args, meter_of


def add_api_arg(p) -> None:
    p.add_argument("--api", default="auto", choices=list(APIS),
                   help="the MIDI system (auto: the first this platform has that answers; on Linux ALSA, then JACK)")


def add_ports_args(p) -> None:
    add_api_arg(p)


def add_play_args(p) -> None:
    p.add_argument("--port", help="output port: exact name or a unique part of it (default: a new virtual port)")
    p.add_argument("--clock-in", help="follow the MIDI clock (Start/Stop/Continue/SPP) of this input port")
    p.add_argument("--clock", choices=["internal", "link"], default="internal",
                   help="internal (default), or link: join the Ableton Link session on this network (the link extra)")
    p.add_argument("--quantum", type=float,
                   help="with --clock link: beats in a bar of the session, our bars start on its phase 0 (default: "
                        "the meter's bar, 4 in 4/4)")
    p.add_argument("--input", help="listen to this input port: notes to answer, CCs to steer")
    p.add_argument("--no-doubling", action="store_true",
                   help="a model that listens never plays a pitch you are sounding (octaves stay open; it then plays "
                        "fewer tones of your chord: docs/listening.md)")
    p.add_argument("--cc-map", metavar="FILE", help="the CC mapping to load and save (default: the one in your "
                   "config folder, as MIDI learn in the console saves it)")
    add_api_arg(p)
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--bpm", type=float, default=120.0,
                   help="internal clock tempo, 20..300 (with --clock link: only a session founded by us)")
    p.add_argument("--send-clock", action="store_true", help="also send MIDI clock, Start and Stop")
    p.add_argument("--channel", type=int, default=1, help="MIDI channel 1..16")
    p.add_argument("--split", metavar="BASS,TOP,REST",
                   help="parts to channels: the lowest voice, the highest and the ones between, e.g. 2,3,1")
    p.add_argument("--velocity", type=int, default=80, help="note-on velocity 1..127 (CC 22 moves it live)")
    p.add_argument("--velocity-follows", action="store_true", help="velocity follows the play probability")
    p.add_argument("--anti-silence", type=float, default=1.0, help="0 = off .. 1 = the original's rule against silence")
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--density", type=float, default=0.0, help="added to every play logit: -4 sparser .. +4 denser")
    p.add_argument("--offset-ms", type=float, default=0.0, help="shift notes against the clock; negative = early")
    p.add_argument("--on-tick", action="store_true",
                   help="with --clock-in: send each 16th when its clock pulse arrives, not at its predicted time")
    p.add_argument("--record", help="save what was played (and the human input) to this MIDI file")
    p.add_argument("--bars", type=int, default=0, help="stop after this many bars (0 = until stopped)")
    add_key_args(p)
    add_meter_arg(p)
    add_harmony_args(p, live=True)
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling noise")
    p.add_argument("--no-tui", action="store_true", help="headless: a log line per bar")
    p.add_argument("--quiet", action="store_true", help="headless without the per-bar lines")


def run_ports(args) -> int:
    b = backend(args.api)
    inputs, outputs = b.get_input_names(), b.get_output_names()
    print(f"MIDI system: {system_name(b)}")
    print("inputs (for --clock-in, --input):")
    for name in inputs or ["(none)"]:
        print(f"  {name}")
    print("outputs (for --port):")
    for name in outputs or ["(none)"]:
        print(f"  {name}")
    return 0


def bar_line(info: dict) -> str:
    bpm = f"{info['bpm']:.1f}" if info["bpm"] else "-"
    return (f"bar {info['bar']:4d} | {bpm:>6s} BPM | {info['notes']:3d} notes | late steps {info['late']} | "
            f"step p50 {info['step_p50_ms']:.2f} ms p99 {info['step_p99_ms']:.2f} ms")


def run_play(args) -> int:
    sys.setswitchinterval(0.0005)  # short GIL slices: the clock and sender threads get in quickly
    if not 20 <= args.bpm <= 300:
        raise LiveBiaxialError(f"--bpm {args.bpm}: choose a tempo within 20..300")
    if not 1 <= args.channel <= 16:
        raise LiveBiaxialError(f"--channel {args.channel}: MIDI channels are 1..16")
    if args.clock == "link" and args.clock_in:
        raise LiveBiaxialError("--clock link and --clock-in: follow one clock, the Link session or the MIDI port")
    if args.clock == "link":
        from ..link_clock import link_module

        link_module()  # the optional extra: said before any port opens
    split = split_of(args.split) if args.split else None
    cc_map = CCMap.load(Path(args.cc_map) if args.cc_map else default_path())  # a bad file: one line, before any port
    root, scale, cadence = key_of_args(args) or (0, "major", None)  # a key to start in: its cadence heard first
    cell = Cell(args.model)
    harmony, strength = harmony_of(args, cell)  # a bad chart: one line, before any port
    b = backend(args.api)
    stopped_by: list[int] = []  # the signals that came: the first sets the exit code (SIGINT 130, SIGTERM 143)
    closing_guard = _ClosingGuard(stopped_by)
    with contextlib.ExitStack() as ports:  # closed last, each in turn, under the guard
        ports.callback(closing_guard.cancel)
        out = ports.enter_context(open_output(b, args.port))
        controls = Controls(anti_silence=args.anti_silence, temperature=temperature_or_own(args.temperature, cell.temperature),
                            velocity=args.velocity, velocity_follows_probability=args.velocity_follows,
                            channel=args.channel - 1, density=args.density, key_root=root,
                            scale=scale if args.lock else "chromatic", leave_players_notes=args.no_doubling,
                            harmony=strength)
        recorder = Recorder(args.record, args.bpm) if args.record else None
        tui = sys.stdout.isatty() and not args.no_tui and not args.quiet
        meter, _ = meter_of(args)
        settings = EngineSettings(offset_s=args.offset_ms / 1000.0, seed=args.seed, split=split, meter=meter,
                                  burst_limit=6 if b.api == "UNIX_JACK" else 0,
                                  send_early=bool(args.clock_in) and not args.on_tick,
                                  chord_channel=None if args.chord_channel is None else args.chord_channel - 1)
        engine = Engine(cell, out, controls, settings, recorder=recorder, prime=cadence, cc_map=cc_map, harmony=harmony,
                        on_bar=None if args.quiet or tui else (lambda info: print(bar_line(info), flush=True)))
        take = _Take(engine, ports, stopped_by)
        try:
            with take:
                if args.port:
                    ports.enter_context(_watch_port(out, engine, quiet_lines=tui))
                take.open_sources(args, b, meter, out)
                print(f"live-biaxial: playing {cell.path.name} to {out.name!r} ({system_name(b)})" + take.source,
                      flush=True)
                print(f"live-biaxial: harmony {controls.harmony:g}; chords from "
                      f"{harmony.describe(args.chord_channel)}", flush=True)
                take.started = True  # every port open: from here on there is a take to sum up
                limit = args.bars * meter[0] if args.bars else None
                if tui:
                    take.play_in_console(out, limit)
                else:
                    take.play_headless(limit)
        finally:  # every note is off now (the take closed the clock, then the engine)
            if recorder:
                _save(recorder)
            time.sleep(0.25)  # let the MIDI driver deliver them before the ports go (JACK flushes per cycle)
            if take.started:
                _summary(engine, take.follower, take.inputs)  # before the ports close: closing one may hang
            closing_guard.start()
    if take.crashed:
        print("live-biaxial: the console failed (above); every note was released", file=sys.stderr)
        return 1
    return closing_guard.code()


class _ClosingGuard:
    """Closing an input can wait on the MIDI driver's thread while that thread waits for the GIL; the notes
    are already off by then, so a close that takes over 3 s ends the process with the take's exit code."""

    def __init__(self, stopped_by: list[int]):
        self.stopped_by = stopped_by
        self._timer = threading.Timer(3.0, lambda: (sys.stdout.flush(), os._exit(self.code())))
        self._timer.daemon = True

    def code(self) -> int:
        """The shell's convention: 130 for SIGINT, 143 for SIGTERM, else 0."""
        return 128 + self.stopped_by[0] if self.stopped_by else 0

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()  # closed in time: the exit is the caller's again


class _Take:
    """One run of `play`: the clock sources opened into ``ports`` and played until the clock ends, a signal
    comes, the console closes or an input dies. Leaving it, the clock closes, then the engine (every sounding
    note gets its note-off, then CC 123; Start/Continue ignored from then on); Ctrl-C and SIGTERM end it."""

    def __init__(self, engine: Engine, ports: contextlib.ExitStack, stopped_by: list[int]):
        self.engine, self.ports, self.stopped_by = engine, ports, stopped_by
        self.inputs: list = []
        self.clock = self.follower = None
        self.source = ""
        self.started = self.crashed = False

    def __enter__(self) -> _Take:
        def terminate(signum, frame):
            self.stopped_by.append(signum)
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        signal.signal(signal.SIGINT, terminate)
        self.engine.open()
        return self

    def __exit__(self, kind, err, tb) -> bool:
        for sig in (signal.SIGINT, signal.SIGTERM):  # from here on a signal only waits its turn: notes off, recording
            signal.signal(sig, lambda signum, frame: self.stopped_by.append(signum))
        if kind is KeyboardInterrupt:
            if not self.stopped_by:  # a KeyboardInterrupt from elsewhere is Ctrl-C too
                self.stopped_by.append(signal.SIGINT)
            print("\nlive-biaxial: stopping", file=sys.stderr)
        if self.clock is not None:
            self.clock.close()  # a Link clock also leaves the session
        self.engine.close()
        return kind is KeyboardInterrupt

    def open_sources(self, args, b, meter, out) -> None:
        """The inputs (the player's; a DAW's clock) into ``ports``, and the clock that drives the engine."""
        if args.input:
            self.inputs.append(self.ports.enter_context(open_input(b, args.input, callback=self.engine.human)))
        if args.clock_in:
            self.follower = self.ports.enter_context(
                MidiClockFollower(self.engine, bar_pulses=meter[0] * PULSES_PER_16TH))
            self.inputs.append(self.ports.enter_context(open_input(b, args.clock_in, callback=self.follower,
                                                                   stamped=True)))
        if args.clock == "link":
            from ..link_clock import LinkClock

            self.clock = LinkClock(self.engine, args.bpm, quantum=args.quantum or meter[0] / 4)
            self.source = f", joining the Link session (bars of {self.clock.quantum:g} beats; it plays when the session plays)"
        elif args.clock_in:
            self.source = f", following the clock of {self.inputs[-1].name!r}"
        else:
            self.clock = InternalClock(self.engine, args.bpm)
            self.source = f" at {args.bpm:g} BPM"
        if self.clock is not None and args.send_clock:
            self.clock.sink = _ClockOut(self.engine, out)

    def play_in_console(self, out, limit: int | None) -> None:
        from ..console import Console

        if self.clock is not None:
            self.clock.start_thread(limit)
        ports = f"out: {out.name}" + "".join(f"  in: {p.name}" for p in self.inputs)
        # Textual trusts COLUMNS/LINES over the terminal; a shell may export stale ones
        # (seen in a fresh tmux pane: the console drew 80 x 24 in a 130 x 45 window)
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
        app = Console(self.engine, clock=self.clock, follower=self.follower, ports=ports, inputs=self.inputs)
        app.run()  # an error inside the console ends the app (terminal restored, traceback shown)
        self.crashed = bool(app.return_code)

    def play_headless(self, limit: int | None) -> None:
        """The clock plays on its own thread, this one only waits: a signal lands here, never between a message
        going to the port and its being counted (or recorded)."""
        ticking = self.clock.start_thread(limit) if self.clock is not None else None
        while True:
            time.sleep(0.05)
            while self.follower is not None and self.follower.notes:  # what the clock did that the musician must know
                print(f"live-biaxial: {self.follower.notes.popleft()}", flush=True)
            dead = next((p.dead for p in self.inputs if getattr(p, "dead", "")), "")
            if dead:  # an input that cannot listen any more: say so and stop, notes released
                raise LiveBiaxialError(f"{dead}; every note was released")
            if ticking is not None and not ticking.is_alive():
                return
            if ticking is None and limit is not None and self.engine.sixteenth >= limit:
                return


def _summary(engine: Engine, follower, ins) -> None:
    """The closing lines: what was played, and what the inputs could not use."""
    p50, p99 = engine.latency()
    print(f"live-biaxial: {engine.sixteenth} 16ths, {engine.sent_notes} notes, {engine.late} late steps, "
          f"step p50 {p50:.2f} ms p99 {p99:.2f} ms" +
          (f", {follower.lost_pulses} clock pulses lost on the way" if follower and follower.lost_pulses else "") +
          (f", {follower.doubled_pulses} doubled" if follower and follower.doubled_pulses else "") +
          (f", {follower.joined} takes joined without a Start" if follower and follower.joined else ""), flush=True)
    for port in ins:
        if getattr(port, "failures", 0):  # PolledInput (JACK) keeps listening past a failed message
            print(f"live-biaxial: {port.failures} messages from {port.name!r} could not be handled "
                  f"(first: {port.first_failure})", file=sys.stderr)
        if getattr(port, "dropped", 0):
            print(f"live-biaxial: {port.dropped} byte sequences from {port.name!r} were no MIDI message and were "
                  f"dropped (first: {port.first_dropped})", file=sys.stderr)
    sys.stderr.flush()


def _save(recorder: Recorder) -> None:
    try:
        recorder.save()
        print(f"live-biaxial: recorded to {recorder.path}", flush=True)
    except OSError as err:
        print(f"live-biaxial: error: {recorder.path}: cannot write the recording ({err.strerror})", file=sys.stderr)


def split_of(text: str) -> tuple[int, int, int]:
    """--split "2,3,1" -> (1, 2, 0): the bass, top and rest channels, 0-based."""
    try:
        channels = tuple(int(x) for x in text.split(","))
    except ValueError:
        channels = ()
    if len(channels) != 3 or not all(1 <= c <= 16 for c in channels) or len(set(channels)) < 3:
        raise LiveBiaxialError(f"--split {text}: three different MIDI channels 1..16, the bass's, the top voice's and "
                               "the rest's, e.g. --split 2,3,1 (without --split every note goes to --channel)")
    return channels[0] - 1, channels[1] - 1, channels[2] - 1


def _watch_port(out, engine: Engine, quiet_lines: bool) -> PortWatch:
    """A named port can go away (a synth unplugged, a DAW closed): say so, reconnect when it is back.
    With the console open it shows PORT LOST instead of a line."""
    def say(line: str) -> None:
        if not quiet_lines:
            print(line, file=sys.stderr, flush=True)

    def lost():
        engine.port_gone()
        say(f"live-biaxial: output port {out.name!r} went away; notes released; waiting for it")

    def back():
        engine.port_back()
        say(f"live-biaxial: output port {out.name!r} is back; playing to it again")

    return PortWatch(out, lost, back, engine.lock)


class _ClockOut(SinkTap):
    """Passes the internal clock on to the engine and out of the port as MIDI clock/Start/Stop."""

    def __init__(self, engine: Engine, port):
        import mido

        super().__init__(engine)
        self.port = port
        self._clock, self._start, self._stop = (mido.Message("clock"), mido.Message("start"), mido.Message("stop"))

    def start(self, sixteenth, t):
        self.port.send(self._start)
        super().start(sixteenth, t)

    def pulse(self, t, next_t):
        self.port.send(self._clock)
        super().pulse(t, next_t)

    def stop(self):
        super().stop()
        self.port.send(self._stop)
