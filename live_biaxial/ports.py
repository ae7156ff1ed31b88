"""MIDI ports through mido's rtmidi backend: find by name or substring, clear errors.

Backend errors are re-raised as PortError (an OSError), as mido does for its own.
"""

from __future__ import annotations

import sys

import mido

from .errors import PortError

APIS = {"auto": None, "alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "windows": "WINDOWS_MM"}
VIRTUAL_NAME = "live-biaxial"


_alsa_quiet = []  # the installed ALSA error handler, kept alive for the C library


def quiet_alsa() -> None:
    """Stop ALSA's C library printing its own lines to stderr ("ALSA lib seq_hw.c:... failed").

    Without a sequencer (no snd-seq, a container) rtmidi's ALSA client prints one before our one-line
    PortError, which already carries rtmidi's reason. Linux only; a no-op where there is no libasound."""
    if _alsa_quiet or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
    except OSError:
        return
    # void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _alsa_quiet.append(handler_type(lambda *args: None))
    lib.snd_lib_error_set_handler(_alsa_quiet[0])


API_NAMES = {"LINUX_ALSA": "ALSA", "UNIX_JACK": "JACK", "MACOSX_CORE": "CoreMIDI", "WINDOWS_MM": "Windows MIDI"}


def auto_apis() -> list[str]:
    """The MIDI systems ``--api auto`` tries, in order: those of this platform that rtmidi was built with."""
    import rtmidi

    built = set(rtmidi.get_compiled_api())
    order = ["LINUX_ALSA", "UNIX_JACK"] if sys.platform.startswith("linux") else \
        ["MACOSX_CORE", "UNIX_JACK"] if sys.platform == "darwin" else ["WINDOWS_MM"]
    return [a for a in order if getattr(rtmidi, f"API_{a}", None) in built] or order


_jack_quiet = []  # the installed JACK message handlers, kept alive for the C library


def quiet_jack() -> None:
    """Stop JACK's client library printing its own lines ("Cannot connect to server socket ...") when no
    server runs: trying JACK after ALSA must not spill them before our one-line error. A no-op without libjack."""
    if _jack_quiet or sys.platform.startswith("win"):
        return
    import ctypes
    import ctypes.util

    from pathlib import Path

    import rtmidi

    # python-rtmidi's wheel carries a libjack of its own (in python_rtmidi.libs/ or python_rtmidi./, by the
    # wheel's tools); a source build uses the system's
    bundled = sorted(Path(rtmidi.__file__).parents[1].glob("python_rtmidi*/libjack*.so*"))
    try:
        lib = ctypes.CDLL(str(bundled[0]) if bundled else ctypes.util.find_library("jack") or "libjack.so.0")
    except OSError:
        return
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p)  # void handler(const char *msg)
    _jack_quiet.append(handler_type(lambda msg: None))
    lib.jack_set_error_function(_jack_quiet[0])
    lib.jack_set_info_function(_jack_quiet[0])


def backend(api: str = "auto") -> mido.Backend:
    """The MIDI system to use: the one named, or (auto) the first of this platform's that answers."""
    if api not in APIS:
        raise PortError(f"--api {api}: choose one of {', '.join(APIS)}")
    quiet_alsa()
    quiet_jack()
    tried = []
    for name in auto_apis() if api == "auto" else [APIS[api]]:
        try:
            b = mido.Backend(f"mido.backends.rtmidi/{name}", load=True)
            b.get_output_names()  # touches the MIDI system: fails here if there is none
            return b
        except Exception as err:  # rtmidi raises SystemError/RuntimeError/ImportError for a missing system
            tried.append(f"{API_NAMES.get(name, name)}: {err}")
    raise PortError(f"no MIDI system available through {api} ({'; '.join(tried)}); {how_to_get_midi()}")


def system_name(b: mido.Backend) -> str:
    """The MIDI system a backend talks to, as a user knows it ("ALSA", "JACK", ...)."""
    return API_NAMES.get(b.api, b.api)


def how_to_get_midi() -> str:
    if sys.platform == "darwin":
        return "enable the IAC Driver in Audio MIDI Setup"
    if sys.platform.startswith("win"):
        return "install loopMIDI and create a port (Windows has no virtual ports)"
    return "load ALSA's sequencer (modprobe snd-seq) or start a JACK server (jackd -d dummy)"


def find(name: str, available: list[str], kind: str) -> str:
    """An exact name, else a unique case-insensitive substring; else one line listing the ports."""
    if name in available:
        return name
    hits = [p for p in available if name.lower() in p.lower()]
    if len(hits) == 1:
        return hits[0]
    listing = ", ".join(repr(p) for p in available) or "none"
    if hits:
        raise PortError(f"{kind} port {name!r} is ambiguous: it matches {', '.join(map(repr, hits))}")
    raise PortError(f"no {kind} port matches {name!r}; {kind} ports: {listing}")


def open_output(b: mido.Backend, name: str | None) -> OutputPort:
    """An existing output by name, or (name None) a new virtual output called live-biaxial, of a client called
    live-biaxial (JACK shows it as live-biaxial:live-biaxial; without the client's name, RtMidiOut Client)."""
    try:
        if name is None:
            return OutputPort(b.api, VIRTUAL_NAME, virtual=True)
        return OutputPort(b.api, find(name, b.get_output_names(), "output"))
    except PortError:
        raise
    except Exception as err:
        raise PortError(f"cannot open output {name or VIRTUAL_NAME!r}: {err}") from err


class OutputPort:
    """A MIDI output through python-rtmidi: ``send(msg)`` a mido message, and for the port watch the system's
    output names listed through this port's own client and ``reopen()`` (a mido port keeps its rtmidi object
    private). A context manager; ``close()`` once."""

    def __init__(self, api: str, name: str, virtual: bool = False):
        import rtmidi

        self.name = name
        self._rt = rtmidi.MidiOut(getattr(rtmidi, f"API_{api}"), name=VIRTUAL_NAME if virtual else None)
        if virtual:
            self._rt.open_virtual_port(name)
        else:
            self._rt.open_port(self.port_names().index(name))
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        self._rt.send_message(msg.bytes())

    def port_names(self) -> list[str]:
        return self._rt.get_ports()

    def reopen(self) -> None:
        """Connect again to the port of this name (it went away and is back)."""
        self._rt.close_port()
        self._rt.open_port(self.port_names().index(self.name))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._rt.close_port()
            self._rt.delete()

    def __enter__(self) -> OutputPort:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_input(b: mido.Backend, name: str, callback, stamped: bool = False):
    """An existing input by name; ``callback(msg)`` gets each message. On JACK the port is polled
    (PolledInput) so that no Python runs in JACK's process thread; with ``stamped`` the callback
    gets ``(msg, t)`` there, t being when JACK received it (elsewhere the callback stamps it)."""
    try:
        ours = f"{VIRTUAL_NAME}:{VIRTUAL_NAME}"  # our own virtual output, which JACK lists as an input too
        found = find(name, [p for p in b.get_input_names() if not p.startswith(ours)], "input")
        if b.api == "UNIX_JACK":
            return PolledInput(found, callback, stamped=stamped)
        return b.open_input(found, callback=callback)
    except PortError:
        raise
    except Exception as err:
        raise PortError(f"cannot open input {name!r}: {err}") from err


class PolledInput:
    """A JACK MIDI input read by a thread of ours instead of a callback in JACK's process thread.

    rtmidi runs an input callback inside JACK's realtime process cycle, and mido installs a Python
    one even for a port opened without a callback: it must take the GIL there, so any Python
    thread of ours could hold up JACK's cycle. Here JACK's thread only queues the bytes (rtmidi's
    C++ queue) and a Python thread polls them every ``poll_s``. (Measured on the 2-vCPU test VM,
    this alone did not lower the count of late JACK cycles: the model step's CPU burst was the
    main cause, see Engine.quiet_share; it keeps the GIL out of the realtime thread all the same.)

    ``stamped``: the callback gets ``(msg, t)``, t being when JACK's process cycle received the
    message on the perf_counter clock, free of this thread's polling and GIL delays. rtmidi gives
    each message's time since the previous one by JACK's clock (CLOCK_MONOTONIC, as perf_counter);
    their sum is mapped onto perf_counter by the smallest lag seen in the last second or two (stable
    within 1 us over 30 s of recorded traffic; after events were held up, it catches up within 2 s). Measured at 300 BPM (tests/data/clock): the clock follower relocked after
    late cycles 0-3 times per 32 bars with poll times, never with JACK's.
    """

    def __init__(self, name: str, callback, poll_s: float = 0.0002, stamped: bool = False):
        import threading

        import rtmidi

        self.name, self.callback, self.poll_s, self.stamped = name, callback, poll_s, stamped
        self.failures, self.first_failure = 0, ""  # messages whose callback raised (the thread goes on)
        self.dropped, self.first_dropped = 0, ""  # byte sequences that are no MIDI message (truncated, unknown)
        self.restarts, self.last_error, self.dead = 0, "", ""  # the polling thread's own failures (_run)
        self._rt = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="live-biaxial-in", queue_size_limit=4096)
        # Nothing ignored here: rtmidi's time of a message counts from the last one it kept, so a
        # dropped Active Sensing would put the next stamp early. The callbacks ignore what they don't use.
        self._rt.ignore_types(sysex=False, timing=False, active_sense=False)
        self._rt.open_port(self._rt.get_ports().index(name))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midi-in {name}", daemon=True)
        self._thread.start()

    RESTARTS = 3  # an input thread that fails more often than this ends: ``dead`` says why

    def _run(self) -> None:
        """Poll until closed; an error in the polling itself (not in a message: those are counted) restarts it,
        up to RESTARTS times."""
        while not self._stop.is_set():
            try:
                self._poll()
                return
            except Exception as err:  # rtmidi's queue or our own code: never seen, never silent
                self.restarts += 1
                self.last_error = f"{type(err).__name__}: {err}"
                if self.restarts > self.RESTARTS:
                    self.dead = f"the input {self.name!r} stopped ({self.last_error}, {self.restarts} times)"
                    return

    def _poll(self) -> None:
        import time

        get, sleep, now = self._rt.get_message, time.sleep, time.perf_counter
        jack_t, lag = 0.0, float("inf")  # JACK's time of the last message (from the first), its least lag
        window_lag, window_end = float("inf"), 0.0  # the least lag of this second: the next second's lag
        while not self._stop.is_set():
            item = get()
            if item is None:
                sleep(self.poll_s)
                continue
            jack_t += item[1]
            seen = now()
            window_lag = min(window_lag, seen - jack_t)
            lag = min(lag, window_lag)
            if seen > window_end:  # the lag may rise once a second (events held up, then JACK's times jump
                lag, window_lag, window_end = window_lag, float("inf"), seen + 1.0  # back): never seconds behind
            try:
                msgs = [mido.Message.from_bytes(item[0])]
            except Exception:  # truncated, unknown, or several folded into one (below): dropped or split, counted
                msgs = self._split(item[0])
            for msg in msgs:
                try:
                    if self.stamped:
                        self.callback(msg, jack_t + lag)
                    else:
                        self.callback(msg)
                except Exception as err:  # one message the player could not handle must not end the input
                    self.failures += 1
                    self.first_failure = self.first_failure or f"{msg.type}: {type(err).__name__}: {err}"

    def _split(self, data: list[int]) -> list:
        """The messages in bytes that are no one message. rtmidi's JACK input folds every event after a sysex
        that is not terminated into it, up to the next F7 (the clock too); the messages inside are recovered
        (MIDI lets real-time bytes in a sysex, and a status byte ends one); what is left is dropped and counted."""
        tokens = list(mido.tokenizer.Tokenizer(data))
        msgs = []
        for token in tokens:
            try:
                msgs.append(mido.Message.from_bytes(token))
            except Exception:
                pass
        if sum(len(t) for t in tokens) < len(data) or len(msgs) < len(tokens):  # something was no message
            self.dropped += 1
            self.first_dropped = self.first_dropped or " ".join(f"{b:02X}" for b in data[:8])
        return msgs

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=2)
        self._rt.close_port()
        self._rt.delete()

    def __enter__(self) -> PolledInput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PortWatch:
    """Watches that the output port a user named still exists, and reconnects when it returns.

    rtmidi does not raise when a JACK or ALSA destination goes away: the notes just vanish. A
    thread lists the ports through the output's own client once a second (off the hot path; no
    new MIDI client per check) and calls ``on_lost()`` / ``on_back()`` when the port leaves and
    comes back; ``reopen`` runs while the caller holds whatever keeps sends out (the engine's lock).
    """

    def __init__(self, out, on_lost, on_back, lock, interval_s: float = 1.0):
        import threading

        self.out, self.on_lost, self.on_back, self.lock = out, on_lost, on_back, lock
        self.interval_s = interval_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="port-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                present = self.out.name in self.out.port_names()
            except Exception:  # the MIDI system itself went away
                present = False
            if present != self.lost:  # nothing changed
                continue
            if not present:
                self.lost = True
                self.on_lost()
                continue
            try:
                with self.lock:
                    self.out.reopen()
            except Exception:
                continue  # try again on the next check
            self.lost = False
            self.on_back()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def __enter__(self) -> PortWatch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
