"""Snapshot tests of the console (pytest-textual-snapshot): the main screen and the help screen.

The engine is real but not running: its time-dependent parts (position, piano roll, P(play),
step latency, counters) are frozen to fixed values so the picture only changes when the layout
does. After an intended change of the look: `pytest tests/test_console_snapshots.py --snapshot-update`
and review the SVGs in tests/__snapshots__/.
"""

import numpy as np
import pytest

from live_biaxial.clock import InternalClock, MidiClockFollower
from live_biaxial.console import Console
from live_biaxial.engine import Engine
from live_biaxial.model_file import Cell
from tests.fakes import FakePort

SIZE = (130, 45)


@pytest.fixture
def frozen_engine(tiny_model):
    e = Engine(Cell(tiny_model[1]), FakePort()).open()
    rng = np.random.default_rng(7)
    # four voices moving by small steps, and a human phrase in the last bar
    voices = np.array([16, 23, 28, 36])
    for i in range(64):
        if i % 4 == 0:
            voices = np.clip(voices + rng.integers(-2, 3, 4), 12, 60)
        model = np.zeros(78, bool)
        model[voices] = True
        human = np.zeros(78, bool)
        if i >= 48 and i % 2 == 0:
            human[40 + (i // 2) % 5] = True
        e.history.append((i, model, human))
    e.probs[:, 0] = np.exp(-0.5 * ((np.arange(78) - 30) / 8.0) ** 2)  # a smooth hump
    e.sixteenth, e.playing = 38, True  # shows 3:2:2
    e.step_ms.extend([1.25] * 50 + [2.5])
    e.late, e.sent_notes = 1, 214
    yield e
    e.close()


def test_main_screen_internal_clock(snap_compare, frozen_engine):
    frozen_engine.controls.update(key_root=2, scale="dorian", velocity=96)
    app = Console(frozen_engine, clock=InternalClock(frozen_engine, 128), ports="out: live-biaxial")
    assert snap_compare(app, terminal_size=SIZE)


def test_main_screen_following_a_daw(snap_compare, frozen_engine):
    follower = MidiClockFollower(frozen_engine)
    follower.interval = 60.0 / (123.4 * 24)  # as if ticks had arrived at 123.4 BPM
    app = Console(frozen_engine, follower=follower, ports="out: IAC Bus 1  in: DAW out")
    try:
        assert snap_compare(app, terminal_size=SIZE)
    finally:
        follower.close()


def test_help_screen(snap_compare, frozen_engine):
    app = Console(frozen_engine, clock=InternalClock(frozen_engine, 120))
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE)


def test_main_screen_on_a_link_session(snap_compare, frozen_engine):
    pytest.importorskip("link", reason="the link extra is not installed")
    from live_biaxial.link_clock import LinkClock

    clock = LinkClock(frozen_engine, 128, quantum=4, join=False)  # a real Link peer, kept off the network
    app = Console(frozen_engine, clock=clock, ports="out: IAC Bus 1")
    try:
        assert snap_compare(app, terminal_size=SIZE)
    finally:
        clock.close()


def test_midi_learn_screen_waiting_for_a_knob(snap_compare, frozen_engine, tmp_path):
    from live_biaxial.steering.cc_map import CCMap

    frozen_engine.cc_map = CCMap({"anti_silence": (None, 20), "temperature": (4, 74), "velocity": (None, 22),
                                  "density": (None, 23)}, path=tmp_path / "cc-map.json")
    app = Console(frozen_engine, clock=InternalClock(frozen_engine, 120))
    frozen_engine.cc_map.path = type(tmp_path)("/home/player/.config/live-biaxial/cc-map.json")  # the same in every run
    assert snap_compare(app, press=["l", "3"], terminal_size=SIZE)  # learning: velocity, waiting for a knob


def test_main_screen_in_an_80x24_terminal_following_a_chart(snap_compare, frozen_engine):
    from live_biaxial.music.chords import ChordChart
    from live_biaxial.steering.harmony import HarmonyFollower

    frozen_engine.harmony = HarmonyFollower(ChordChart.parse("Am | F | C G | E7"))
    frozen_engine.harmony.choose(2, 5, 16)  # bar 3, 16th 6: C, the G next
    app = Console(frozen_engine, clock=InternalClock(frozen_engine, 128), ports="out: live-biaxial")
    assert snap_compare(app, terminal_size=(80, 24))


def test_help_screen_in_an_80x24_terminal(snap_compare, frozen_engine):
    app = Console(frozen_engine, clock=InternalClock(frozen_engine, 120))
    assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24))
