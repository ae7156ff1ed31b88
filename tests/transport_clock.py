"""A MIDI clock sender this project did not write: Debian's jack_midi_clock following JACK transport, moved by
jack_transport as timebase master (clock, Start, Stop, Continue and Song Position Pointer, as a DAW on JACK
sends them), and a listener that stamps the sender's messages and the engine's notes on one clock."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import mido

CLOCK_PORT = "jack_midi_clock:mclk_out"
_KEEP: list = []  # the listeners' rtmidi inputs, never closed (see Listener.close)
RATE = 48000  # the test server's sample rate (frames per second)


def installed() -> bool:
    return bool(shutil.which("jack_midi_clock") and shutil.which("jack_transport"))


class TransportClock:
    """``with TransportClock(bpm) as sender:`` play(), stop(), locate(16th), tempo(bpm) on the JACK server named by
    JACK_DEFAULT_SERVER; ``resync_s``: jack_midi_clock's wait between a song position and its Continue."""

    def __init__(self, bpm: float = 120.0, resync_s: float = 0.5):
        self.bpm = bpm
        self.transport = subprocess.Popen(["jack_transport"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, text=True)
        self.say("master")  # the timebase: bars, beats and the tempo, which jack_midi_clock follows
        self.say(f"tempo {bpm:g}")
        self.clock = subprocess.Popen(["jack_midi_clock", "-d", f"{resync_s:g}"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while CLOCK_PORT not in _ports():
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("jack_midi_clock did not show its port")
            time.sleep(0.1)

    def __enter__(self) -> TransportClock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def say(self, command: str) -> None:
        self.transport.stdin.write(command + "\n")
        self.transport.stdin.flush()

    def play(self) -> None:
        self.say("play")

    def stop(self) -> None:
        self.say("stop")

    def locate(self, sixteenth: int) -> None:
        self.say(f"locate {round(sixteenth * RATE * 15 / self.bpm)}")

    def tempo(self, bpm: float) -> None:
        self.bpm = bpm
        self.say(f"tempo {bpm:g}")

    def close(self) -> None:
        for proc in (self.clock, self.transport):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _index(midi_in, name: str) -> int:
    """The index of the port called ``name``, or of the only one whose name holds it."""
    ports = midi_in.get_ports()
    return ports.index(name) if name in ports else next(i for i, p in enumerate(ports) if name in p)


def _ports() -> list[str]:
    r = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, JACK_NO_START_SERVER="1"))
    return r.stdout.splitlines()


class Listener:
    """Stamps (perf_counter, message) of what the sender sends (``sent``) and what the engine plays (``heard``),
    read by one polling thread, so the two share their delays."""

    def __init__(self, clock_port: str = CLOCK_PORT):
        import rtmidi

        self.sent: list[tuple[float, mido.Message]] = []
        self.heard: list[tuple[float, mido.Message]] = []
        self._clock_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="listener-clock")
        self._clock_in.ignore_types(sysex=True, timing=False, active_sense=True)
        self._clock_in.open_port(_index(self._clock_in, clock_port))
        self._notes_in = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def hear(self, port: str) -> None:
        """Listen to the engine's output port too."""
        import rtmidi

        notes_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="listener-notes")
        notes_in.ignore_types(sysex=True, timing=True, active_sense=True)
        notes_in.open_port(_index(notes_in, port))
        self._notes_in = notes_in

    def _poll(self) -> None:
        while not self._stop.is_set():
            got = False
            for port, into in ((self._clock_in, self.sent), (self._notes_in, self.heard)):
                item = port.get_message() if port is not None else None
                if item is not None:
                    into.append((time.perf_counter(), mido.Message.from_bytes(item[0])))
                    got = True
            if not got:
                time.sleep(0.0002)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        _KEEP.extend([self._clock_in, self._notes_in])
        # The ports are not closed: closing an rtmidi JACK port while JACK's thread reads it can crash the
        # process (see tests/daw.py); they go with the process.


def takes(sent: list[tuple[float, mido.Message]], heard: list[tuple[float, mido.Message]],
          tail_s: float = 0.3) -> list[dict]:
    """The takes the sender played (Start or Continue to Stop), each with its figures: ``pulses`` (its clock),
    ``notes`` (note-ons heard), ``onset_ms`` (each note-on less the pulse of the 16th it belongs to: the
    nearest pulse that starts a 16th, counted from Start with the pulses lost on the way put back; negative:
    before the listener got the pulse),
    ``sixteenths_off_grid`` (16ths whose notes came nearer a pulse that starts no 16th: moved by a pulse or
    more), ``off_grid`` (the take ended so: its grid shifted for good), ``hanging`` (notes still on ``tail_s``
    after Stop, as a synth hears it: a note-off or CC 123 ends a note)."""
    import numpy as np

    out, begun = [], None
    for t, msg in sent:
        if msg.type in ("start", "continue") and begun is None:
            begun = (t, msg.type)
        elif msg.type == "stop" and begun is not None:
            out.append(_take(begun, t, sent, heard, tail_s, np))
            begun = None
    return out


def _take(begun, stop_t, sent, heard, tail_s, np) -> dict:
    start_t, kind = begun
    pulses = np.array([t for t, m in sent if m.type == "clock" and start_t <= t < stop_t])
    ons = [(t, m) for t, m in heard if start_t <= t < stop_t + 0.005 and m.type == "note_on" and m.velocity]
    onset, off, filled = [], [], 0  # off: the slots of the notes nearer a pulse that starts no 16th
    if len(pulses) > 12:
        grid, filled = _grid(start_t, pulses, np)
        sixteenths = grid[::6]
        for t, _ in ons:
            own = sixteenths[np.argmin(np.abs(sixteenths - t))]  # a note sent early for its tick may beat the pulse
            onset.append((t - own) * 1e3)
            nearest = int(np.argmin(np.abs(grid - t)))
            if nearest % 6:
                off.append(nearest)
    last = [int(np.argmin(np.abs(grid - t))) for t, _ in ons[-8:]] if onset else []
    on: dict = {}
    for t, m in heard:
        if t > stop_t + tail_s:
            break
        if m.type == "note_on" and m.velocity:
            on[(m.channel, m.note)] = on.get((m.channel, m.note), 0) + 1
        elif m.type in ("note_on", "note_off") and on.get((m.channel, m.note)):
            on[(m.channel, m.note)] -= 1
        elif m.type == "control_change" and m.control == 123:  # all notes off: what a synth does with it
            on = {key: v for key, v in on.items() if key[0] != m.channel}
    all_off = sum(1 for t, m in heard if stop_t <= t <= stop_t + tail_s and m.type == "control_change"
                  and m.control == 123)
    return {"kind": kind, "pulses": len(pulses), "pulses_lost_before_the_listener": filled, "notes": len(ons),
            "onset_ms": onset, "sixteenths_off_grid": len({slot // 6 for slot in off}), "off_slots": sorted(set(off)),
            "off_grid": bool(last) and all(slot % 6 for slot in last),
            "hanging": sum(v for v in on.values() if v > 0), "all_notes_off_after_stop": all_off}


def _grid(start_t: float, pulses, np):
    """Every pulse slot of a take from Start: the pulses the listener got, and in the gaps the ones that JACK
    or the sender lost before it (at even steps), copies left out. Returns (times, how many were filled in)."""
    interval = float(np.median(np.diff(pulses)))
    first = int((pulses[0] - start_t) / interval + 0.25)  # the first pulse comes with Start
    grid = [start_t + k * interval for k in range(first)]
    grid.append(pulses[0])
    filled = first
    for a, b in zip(pulses[:-1], pulses[1:]):
        steps = round((b - a) / interval)
        grid += [a + k * (b - a) / steps for k in range(1, steps + 1)]
        filled += max(steps - 1, 0)
    return np.array(grid), filled
