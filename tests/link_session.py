"""A Link session with `live-biaxial play --clock link` in it, run inside a network namespace of its own.

This process is the other peer (a DAW, say) and the synth: it founds a session, starts `play` as a child
(in the same namespace), receives its notes on a JACK port, and drives the session: start, a tempo
change, stop, start again. It writes what happened as JSON; tests/test_link.py and bench/bench_link.py
judge it. Times are Link's clock in microseconds throughout (note arrivals, the grid, printed bar lines).

    unshare -n -- python -m tests.link_session --model M.onnx --out result.json [--bars-per-part 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

from tests.netns import interfaces, loopback_up


def grid(state, t0: float, t1: float, quantum: float) -> list[tuple[float, int]]:
    """The session's 16ths between t0 and t1 (micros): (time, index of the 16th in the bar)."""
    beat = math.ceil(state.beatAtTime(t0, quantum) * 4) / 4
    out = []
    while (t := state.timeAtBeat(beat, quantum)) < t1:
        out.append((t, int(round(state.phaseAtTime(t + 1, quantum) * 4)) % int(round(quantum * 4))))
        beat += 0.25
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["play", "controls"], default="play")
    ap.add_argument("--model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bpm", type=float, default=150.0, help="the session's tempo, founded by this peer")
    ap.add_argument("--new-bpm", type=float, default=190.0, help="the tempo this peer changes to")
    ap.add_argument("--engine-bpm", type=float, default=120.0, help="play's --bpm: must not change the session")
    ap.add_argument("--bars-per-part", type=float, default=3.0)
    ap.add_argument("--quantum", type=float, default=4.0)
    args = ap.parse_args()
    if args.scenario == "controls":
        return controls_main(args.out)

    names = interfaces()
    if names != ["lo"]:  # never on a real network
        print(f"refusing: interfaces {names}, this must run in a private network namespace", file=sys.stderr)
        return 3
    loopback_up()
    import rtmidi
    from link import Link

    q = args.quantum
    peer = Link(args.bpm)
    peer.startStopSyncEnabled = True
    peer.enabled = True
    clock = peer.clock()
    received: list[tuple[float, list[int]]] = []
    lines: list[tuple[float, str]] = []
    stop = threading.Event()
    port_name = f"linkdaw{os.getpid()}"
    inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="link-daw")
    inp.ignore_types(sysex=True, timing=True, active_sense=True)
    inp.open_virtual_port(port_name)

    def poll():
        while not stop.is_set():
            item = inp.get_message()
            if item is None:
                time.sleep(0.0002)
            else:
                received.append((clock.micros(), item[0]))

    threading.Thread(target=poll, daemon=True).start()
    time.sleep(1.0)  # a session older than the engine's by over half a second: Link keeps the older one's timeline
    engine = subprocess.Popen([sys.executable, "-m", "live_biaxial", "play", "--api", "jack", "--model", args.model,
                               "--port", port_name, "--clock", "link", "--bpm", str(args.engine_bpm), "--no-tui",
                               "--anti-silence", "1", "--quantum", str(q)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read_lines():
        for line in engine.stdout:
            lines.append((clock.micros(), line.rstrip()))

    threading.Thread(target=read_lines, daemon=True).start()
    result: dict = {"interfaces": names, "bpm": args.bpm, "new_bpm": args.new_bpm, "quantum": q, "grid": [],
                    "events": {}}

    def wait(condition, seconds):
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        return condition()

    def bars(n, bpm):  # and half a 16th: what comes next lands between two 16ths, never on one (a race)
        time.sleep((n * q + 0.125) * 60.0 / bpm)

    try:
        if not wait(lambda: any("playing" in line for _, line in lines) and peer.numPeers() > 0, 20):
            result["error"] = f"the engine did not join: peers {peer.numPeers()}, lines {lines}"
            return 0
        time.sleep(0.3)
        result["peers"] = peer.numPeers()
        result["tempo_after_join"] = peer.captureAppSessionState().tempo()
        result["events"]["silent_before_start"] = not any(m[0] & 0xF0 == 0x90 and m[2] for _, m in received)

        s = peer.captureAppSessionState()  # start, quantized to the session's bar
        s.setIsPlayingAndRequestBeatAtTime(True, clock.micros(), 0.0, q)
        peer.commitAppSessionState(s)
        s = peer.captureAppSessionState()
        start = s.timeForIsPlaying()
        result["events"]["start"] = start
        bars(args.bars_per_part, args.bpm)

        before = peer.captureAppSessionState()  # the timeline until the tempo change
        change = clock.micros()  # a tempo change, from this peer
        s = peer.captureAppSessionState()
        s.setTempo(args.new_bpm, change)
        peer.commitAppSessionState(s)
        result["grid"] = grid(before, start - 1, change, q)
        result["events"]["tempo_change"] = change
        bars(args.bars_per_part, args.new_bpm)
        s_after = peer.captureAppSessionState()

        halt = clock.micros()
        s = peer.captureAppSessionState()
        s.setIsPlaying(False, halt)
        peer.commitAppSessionState(s)
        result["events"]["stop"] = halt
        time.sleep(0.6)
        result["events"]["received_at_stop_check"] = len(received)

        s = peer.captureAppSessionState()
        s.setIsPlayingAndRequestBeatAtTime(True, clock.micros(), 0.0, q)
        peer.commitAppSessionState(s)
        restart = peer.captureAppSessionState().timeForIsPlaying()
        result["events"]["restart"] = restart
        time.sleep(max(0.0, (restart - clock.micros()) / 1e6))
        bars(1.5, args.new_bpm)
        end = clock.micros()
        result["events"]["end"] = end
        result["grid_after"] = grid(s_after, change, halt, q) + grid(s_after, restart - 1, end, q)
        result["tempo_at_end"] = peer.captureAppSessionState().tempo()
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            _, err = engine.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            engine.kill()
            _, err = engine.communicate()
        time.sleep(0.3)
        stop.set()
        result["engine_rc"] = engine.returncode
        result["engine_stderr"] = err
        result["lines"] = lines
        result["messages"] = received
        with open(args.out, "w") as f:
            json.dump(result, f)
    return 0



def analyse(result: dict) -> dict:
    """What the session saw, in figures: each note-on's distance from the session's 16th before it (ms), the
    place in the session's bar of the 16th on which the engine ended each of its bars, and the notes
    that sounded across the stop."""
    import numpy as np

    grid_all = sorted(map(tuple, result["grid"] + result["grid_after"]))
    times = np.array([t for t, _ in grid_all])
    index = np.array([i for _, i in grid_all])
    ons = [(t, m) for t, m in result["messages"] if m[0] & 0xF0 == 0x90 and m[2] > 0]
    ev = result["events"]
    playing = [(t, m) for t, m in ons if ev["start"] - 2000 <= t]
    errors = []
    for t, _ in playing:
        k = np.searchsorted(times, t + 2000, side="right") - 1
        if k >= 0:
            errors.append((t - times[k]) / 1e3)
    bar_ends = []
    for t, line in result["lines"]:
        if line.startswith("bar "):
            k = np.searchsorted(times, t, side="right") - 1
            bar_ends.append(int(index[k]) if k >= 0 else -1)
    sounding: dict[tuple[int, int], int] = {}
    double_ons = 0  # a note-on for a note already sounding: its note-off was lost on the way (the engine never does that)
    for t, m in result["messages"][: ev["received_at_stop_check"]]:
        key = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            double_ons += sounding.get(key, 0) > 0
            sounding[key] = sounding.get(key, 0) + 1
        elif m[0] & 0xF0 == 0x80 or (m[0] & 0xF0 == 0x90 and m[2] == 0):
            sounding[key] = max(0, sounding.get(key, 0) - 1)
    return {
        "onset_error_ms": np.array(errors),
        "bar_end_index": bar_ends,
        "hanging_at_stop": {k: v for k, v in sounding.items() if v},
        "double_ons": double_ons,
        "ons_while_stopped": sum(1 for t, _ in ons if ev["stop"] + 300_000 < t < ev["restart"]),
        "ons_after_restart": sum(1 for t, _ in ons if t >= ev["restart"] - 2000),
        "ons_before_start": sum(1 for t, _ in ons if t < ev["start"] - 2000),
        "sixteenth_ms": (15000.0 / result["bpm"], 15000.0 / result["new_bpm"]),
    }


def controls_main(out: str) -> int:
    """The console's side: a LinkClock's tempo and transport go to the other peer; alone, it starts its session."""
    names = interfaces()
    if names != ["lo"]:
        print(f"refusing: interfaces {names}, this must run in a private network namespace", file=sys.stderr)
        return 3
    loopback_up()
    from link import Link

    from live_biaxial.link_clock import LinkClock
    from tests.test_clock import RecordingSink

    result: dict = {"interfaces": names}
    alone_sink = RecordingSink()
    alone = LinkClock(alone_sink, bpm=111, quantum=3)
    alone.start_thread()
    time.sleep(3.0)  # nobody else: after two seconds it founds a session of its own and plays
    result["alone_started"] = alone_sink.calls.count("start")
    result["alone_pulses"] = len(alone_sink.pulses)
    result["alone_tempo"] = alone.bpm
    alone.close()

    peer = Link(97.0)
    peer.startStopSyncEnabled = True
    peer.enabled = True
    time.sleep(1.5)  # Link keeps the older session's timeline when two meet (older by over half a second)
    sink = RecordingSink()
    ours = LinkClock(sink, bpm=140, quantum=4)
    ours.start_thread()
    deadline = time.monotonic() + 10
    while ours.peers < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    result["peers"] = ours.peers
    result["label"] = ours.label()
    result["tempo_after_join"] = peer.captureAppSessionState().tempo()
    result["pulses_before_play"] = len(sink.pulses)  # a session with a peer waits for its transport
    ours.set_bpm(133.0)  # the console's tempo keys
    time.sleep(0.5)
    result["peer_tempo_after_set"] = peer.captureAppSessionState().tempo()
    ours.transport(True)  # the console's play key: the other peer plays too, from the session's next bar line
    time.sleep(2.5)  # a bar of 4 at 133 BPM is 1.8 s
    result["peer_playing"] = peer.captureAppSessionState().isPlaying()
    result["pulses_playing"] = len(sink.pulses)
    s = peer.captureAppSessionState()  # the other peer re-maps the beat: two beats ahead, at once
    now = peer.clock().micros()
    s.forceBeatAtTime(s.beatAtTime(now, 4) + 2.0, now, 4)
    peer.commitAppSessionState(s)
    time.sleep(1.0)
    result["relocations"] = ours.relocations
    result["located_to"] = [c[1] for c in sink.calls if isinstance(c, tuple) and c[0] == "locate"]
    result["pulses_after_jump"] = len(sink.pulses) - result["pulses_playing"]
    ours.transport(False)
    time.sleep(0.5)
    result["peer_playing_after_stop"] = peer.captureAppSessionState().isPlaying()
    result["calls"] = [c for c in sink.calls if isinstance(c, str)]
    ours.close()
    with open(out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
