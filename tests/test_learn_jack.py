"""MIDI learn and the CC map on real JACK ports: a knob bound in the console moves its control, the map
is saved and loaded, and `play --cc-map` plays with it."""

import json
import time

import pytest

from live_biaxial.console import Console
from live_biaxial.engine import Engine
from live_biaxial.model_file import Cell
from live_biaxial.steering.cc_map import CCMap
from live_biaxial.ports import open_input
from tests.conftest import run_cli
from tests.daw import start_engine, stop_engine, wait_until
from tests.fakes import FakePort, hanging_notes
from tests.test_console import sync
from tests.test_live_jack import daw, messages  # noqa: F401 (the fixture)

pytestmark = pytest.mark.jack


@sync
async def test_midi_learn_binds_the_next_knob_moved_on_the_input_port(daw, jack, tiny_model, tmp_path):
    path = tmp_path / "config" / "cc-map.json"
    engine = Engine(Cell(tiny_model[1]), FakePort(), cc_map=CCMap.load(path)).open()
    port = open_input(jack, daw.clock_name, callback=engine.human)  # the DAW's output: a controller's knobs
    c = engine.controls
    try:
        app = Console(engine)
        async with app.run_test() as pilot:
            await pilot.press("l", "2")  # MIDI learn, the second control: temperature
            assert engine.cc_map.learning == "temperature"
            daw.send("control_change", channel=4, control=74, value=10)  # the knob, on channel 5
            wait_until(lambda: engine.cc_map.learnt is not None, 5, "the knob was not learnt")
            await pilot.pause(0.3)
            assert "temperature: CC 74 channel 5, saved" in str(app.screen.query_one("#learn").render())
            await pilot.press("escape")
        assert engine.cc_map.learnt == ("temperature", 4, 74) and engine.cc_map.learning is None
        assert c.temperature == 1.0  # the knob that was learnt moved nothing yet
        daw.send("control_change", channel=4, control=74, value=127)
        wait_until(lambda: c.temperature == pytest.approx(2.0), 5, "the learnt knob does not move temperature")
        daw.send("control_change", channel=0, control=74, value=0)  # the same CC on another channel: not that knob
        daw.send("control_change", channel=0, control=21, value=0)  # temperature's old default CC: unbound now
        daw.send("control_change", channel=0, control=20, value=0)  # the others keep their defaults
        wait_until(lambda: c.anti_silence == 0.0, 5, "CC 20 no longer moves anti-silence")
        assert c.temperature == pytest.approx(2.0)
    finally:
        port.close()
        engine.close()
    saved = json.loads(path.read_text())
    assert saved["controls"]["temperature"] == {"cc": 74, "channel": 5}
    assert CCMap.load(path).bindings == engine.cc_map.bindings  # what the next start loads


def test_play_loads_the_cc_map_given_with_cc_map(daw, tiny_model, tmp_path):
    path = tmp_path / "knobs.json"
    path.write_text(json.dumps({"format": "live-biaxial-cc-map/1", "controls": {"velocity": {"cc": 7, "channel": None}}}))
    eng = start_engine(["--port", daw.in_name, "--input", daw.clock_name, "--bpm", "240", "--density", "3",
                        "--cc-map", path], tiny_model[1])
    try:
        daw.send("control_change", control=7, value=33)  # velocity by CC 7, as the file says
        time.sleep(0.2)
        since = time.perf_counter() + 0.1
        time.sleep(0.8)
    finally:
        stop_engine(eng)
    later = [m.velocity for t, m in daw.note_ons() if t > since]
    assert later and set(later) == {33}, later
    assert not hanging_notes(messages(daw))


def test_a_bad_cc_map_is_one_line(tmp_path):
    bad = tmp_path / "knobs.json"
    bad.write_text('{"format": "live-biaxial-cc-map/1", "controls": {"loudness": {"cc": 7}}}')
    r = run_cli("play", "--cc-map", bad, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "knobs.json: not a usable CC map (unknown control 'loudness'" in r.stderr
    assert bad.read_text().startswith('{"format"')  # nothing overwritten
