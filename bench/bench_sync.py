"""`live-biaxial play --clock-in` against a clock sender, over many takes: Debian's jack_midi_clock moved by JACK
transport (jack_transport as timebase master), beside the project's own fake DAW (tests/daw.py), with the JACK
server realtime and not. Writes bench/results/sync.json.

Per sender, server mode and tempo: ``--takes`` short takes (Start, 2 bars, Stop) and ``--long`` long ones
(``--long-bars`` bars); figures: onset of each note against the pulse of its 16th (min/p50/p99/max, ms; the
listener stamps both on one clock; negative: the note, sent at its predicted tick, beat the pulse), takes off the grid (ending with notes nearer a pulse that starts no 16th)
and 16ths off it, silent takes, notes still sounding 0.3 s after Stop, and the server's xruns per second (its late cycles, and cycles
a client had not finished) while the sender plays without live-biaxial, with live-biaxial connected and
stopped, and while it plays. The model plays with --anti-silence 1: a silent take is the clock's doing.
    python -m bench.bench_sync [--takes 24] [--long 2] [--long-bars 32] [--modes realtime,not-realtime]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bench.provenance import provenance
from tests.daw import start_engine
from tests.jack_server import JackServer, why_not_realtime
from tests.transport_clock import Listener, TransportClock, takes

ROOT = Path(__file__).resolve().parents[1]


class FakeSender:
    """The project's fake DAW (tests/daw.py) as a sender with the transport's calls: play() sends Start and clock
    from a thread of its own until stop() sends Stop."""

    def __init__(self, backend, bpm: float):
        from tests.daw import FakeDaw

        self.bpm = bpm
        self.daw = FakeDaw(backend, f"syncbench{os.getpid()}")
        self.clock_port = self.daw.clock_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def play(self) -> None:
        self._stop.clear()
        self.daw.start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.daw.clock(1, bpm=self.bpm)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.daw.send("stop")

    def locate(self, sixteenth: int) -> None:
        pass  # every take from bar 1

    def tempo(self, bpm: float) -> None:
        self.bpm = bpm

    def close(self) -> None:
        self.daw.close()


def play_takes(sender, bpm: float, short: int, long: int, long_bars: int) -> float:
    """Short and long takes from bar 1; returns the seconds the sender played."""
    sender.tempo(bpm)
    bar_s = 4 * 60.0 / bpm
    played = 0.0
    for bars in [2] * short + [long_bars] * long:
        sender.locate(0)
        time.sleep(0.15)
        t0 = time.perf_counter()
        sender.play()
        time.sleep(bars * bar_s + 0.05)
        sender.stop()
        played += time.perf_counter() - t0
        time.sleep(0.45)
    return played


def per_second(xruns: dict, seconds: float) -> dict:
    return {k: round(v / seconds, 2) for k, v in xruns.items()} if seconds > 0 else {}


def figures(found: list[dict]) -> dict:
    onset = np.concatenate([t["onset_ms"] for t in found]) if found else np.zeros(0)
    return {
        "takes": len(found),
        "notes": int(sum(t["notes"] for t in found)),
        "onset_ms": {"min": float(onset.min()), "p50": float(np.percentile(onset, 50)),
                     "p99": float(np.percentile(onset, 99)), "max": float(onset.max())} if len(onset) else None,
        "takes_off_grid": sum(t["off_grid"] for t in found),
        "sixteenths_off_grid": int(sum(t["sixteenths_off_grid"] for t in found)),
        "silent_takes": sum(t["notes"] == 0 for t in found),
        "hanging_notes": int(sum(t["hanging"] for t in found)),
        "pulses_lost_before_the_listener": int(sum(t["pulses_lost_before_the_listener"] for t in found)),
        "per_take": [{"kind": t["kind"], "pulses": t["pulses"], "notes": t["notes"], "off_grid": t["off_grid"],
                      "sixteenths_off_grid": t["sixteenths_off_grid"],
                      "pulses_lost_before_the_listener": t["pulses_lost_before_the_listener"],
                      "hanging": t["hanging"], "onset_max_ms": round(max(t["onset_ms"], default=0.0), 2)}
                     for t in found],
    }


def run_cell(kind: str, server: JackServer, model: str, bpm: float, args) -> dict:
    """One sender at one tempo on one server: xruns without live-biaxial, with it stopped, with it playing."""
    import mido

    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    sender = TransportClock(bpm=bpm) if kind == "jack_midi_clock" else FakeSender(backend, bpm)
    listener = Listener(getattr(sender, "clock_port", "jack_midi_clock:mclk_out"))
    result: dict = {}
    try:
        server.mark()
        seconds = play_takes(sender, bpm, max(2, args.takes // 4), 0, 0)
        result["xruns_per_s_without_it"] = per_second(server.xruns(), seconds)
        eng = start_engine(["--clock-in", getattr(sender, "clock_port", "mclk_out"), "--anti-silence", "1"], model)
        try:
            listener.hear("live-biaxial:live-biaxial")
            server.mark()
            time.sleep(args.idle_s)
            result["xruns_per_s_it_stopped"] = per_second(server.xruns(), args.idle_s)
            listener.sent.clear()
            listener.heard.clear()
            server.mark()
            seconds = play_takes(sender, bpm, args.takes, args.long, args.long_bars)
            result["xruns_per_s_it_playing"] = per_second(server.xruns(), seconds)
        finally:
            eng.send_signal(signal.SIGTERM)
            out, err = eng.communicate(timeout=15)
        result.update(figures(takes(listener.sent, listener.heard)))
        result["engine_summary"] = next((ln for ln in out.splitlines() if " 16ths, " in ln), err[-300:])
    finally:
        listener.close()
        sender.close()
    return result


def one_cell(args) -> dict:
    """One cell on a JACK server of its own, in this process: a fresh graph for each (the clients of a cell's
    listener are never closed, see tests/transport_clock.py, and would weigh on the next cell's figures)."""
    mode, kind, bpm = args.cell.split("/")
    name = f"syncbench{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    with JackServer(name, Path(f"/tmp/{name}.log"), period=args.period, realtime=mode == "realtime",
                    sync=False) as server:
        return run_cell(kind, server, args.model, float(bpm), args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--takes", type=int, default=24, help="short takes (Start, 2 bars, Stop) per cell")
    ap.add_argument("--long", type=int, default=2, help="long takes per cell")
    ap.add_argument("--long-bars", type=int, default=32)
    ap.add_argument("--bpm", default="120,180")
    ap.add_argument("--modes", default="realtime,not-realtime")
    ap.add_argument("--senders", default="jack_midi_clock,fake_daw")
    ap.add_argument("--period", type=int, default=32, help="JACK period in frames (musicians' small buffers)")
    ap.add_argument("--idle-s", type=float, default=10.0, help="seconds live-biaxial waits connected and stopped")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sync.json"))
    ap.add_argument("--cell", help=argparse.SUPPRESS)  # MODE/SENDER/BPM: run one cell here, write --out
    args = ap.parse_args()
    if args.cell:
        Path(args.out).write_text(json.dumps(one_cell(args)))
        return
    result = {**provenance(), "jack_period_frames": args.period, "takes_per_cell": args.takes,
              "long_takes_per_cell": args.long, "long_take_bars": args.long_bars, "cells": {}}
    refused = why_not_realtime()
    cell_json = Path(f"/tmp/syncbench{os.getpid()}-cell.json")
    for mode in args.modes.split(","):
        if mode == "realtime" and refused:
            print(f"bench_sync: JACK realtime skipped: {refused}", flush=True)
            result["cells"]["realtime"] = {"skipped": refused}
            continue
        for kind in args.senders.split(","):
            for bpm in map(float, args.bpm.split(",")):
                key = f"{mode}/{kind}/{bpm:g}bpm"
                cell = ["--model", args.model, "--takes", str(args.takes), "--long", str(args.long), "--long-bars",
                        str(args.long_bars), "--period", str(args.period), "--idle-s", str(args.idle_s),
                        "--cell", f"{mode}/{kind}/{bpm:g}", "--out", str(cell_json)]
                subprocess.run([sys.executable, "-m", "bench.bench_sync", *cell], cwd=ROOT, check=True,
                               stderr=subprocess.DEVNULL)
                r = result["cells"][key] = json.loads(cell_json.read_text())
                onset = r["onset_ms"] or {}
                print(f"{key:36s} takes {r['takes']:2d} notes {r['notes']:5d} onset min {onset.get('min', 0):5.2f} "
                      f"p50 {onset.get('p50', 0):5.2f} "
                      f"p99 {onset.get('p99', 0):5.2f} max {onset.get('max', 0):6.2f} ms  off-grid "
                      f"{r['takes_off_grid']} ({r['sixteenths_off_grid']} 16ths) silent {r['silent_takes']} hanging "
                      f"{r['hanging_notes']}  xruns/s without {r['xruns_per_s_without_it']} stopped "
                      f"{r['xruns_per_s_it_stopped']} playing {r['xruns_per_s_it_playing']}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
