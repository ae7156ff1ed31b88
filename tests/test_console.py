"""The console with Textual's Pilot: keys and buttons change the engine, engine changes show."""

import asyncio
import functools

import numpy as np
import pytest

from live_biaxial.clock import InternalClock
from live_biaxial.console import ROLL_LOW, Console, prob_strip, roll_grid, roll_window
from live_biaxial.steering.controls import Controls
from live_biaxial.engine import Engine
from live_biaxial.model_file import Cell
from tests.fakes import FLAT_OUT, FakePort, flat_out


@pytest.fixture
def engine(tiny_model):
    e = Engine(Cell(tiny_model[1]), FakePort(), Controls(density=2.0), FLAT_OUT).open()  # flat_out or a real clock
    yield e
    e.close()


def sync(fn):
    """Run an async Pilot test in its own event loop (no pytest plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def text(app, wid):
    return str(app.query_one(wid).render())


@sync
async def test_keys_change_the_engine(engine):
    clock = InternalClock(engine, 120)
    app = Console(engine, clock=clock, refresh_hz=50)
    c = engine.controls
    async with app.run_test() as pilot:
        await pilot.press("plus", "plus")
        assert clock.bpm == 124
        await pilot.press("minus")
        assert clock.bpm == 122
        await pilot.press("z")
        assert c.anti_silence == pytest.approx(0.9)
        await pilot.press("t")
        assert c.temperature == pytest.approx(1.1)
        await pilot.press("g", "g")
        assert c.temperature == pytest.approx(0.9)
        await pilot.press("v")
        assert c.velocity == 88
        await pilot.press("c")
        assert c.channel == 1
        await pilot.press("h")
        assert c.harmony == pytest.approx(0.6)
        await pilot.press("n", "n")
        assert c.harmony == pytest.approx(0.4) and "harmony 0.40" in text(app, "#harmony")
        await pilot.press("k", "s")
        assert c.key_root == 1 and c.scale == "major"
        assert np.isinf(c.play_bias).sum() > 0  # the key lock acts through the per-note bias
        await pilot.press("left_square_bracket")
        assert c.low == 24 and c.high == 60
        assert "key C# major" in text(app, "#harmony") and "ch 2" in text(app, "#controls")


@sync
async def test_transport_and_panic(engine):
    clock = InternalClock(engine, 200)
    app = Console(engine, clock=clock, refresh_hz=50)
    async with app.run_test() as pilot:
        await pilot.press("space")
        await pilot.pause(0.5)
        assert engine.playing and engine.sixteenth > 0
        before = len(engine.port.sent)
        await pilot.press("p")  # panic: all notes off, still playing
        assert any(m.type == "control_change" and m.control == 123 for m in engine.port.sent[before:])
        await pilot.press("space")
        await pilot.pause(0.1)
        assert not engine.playing and not engine.sounding.any()


@sync
async def test_buttons_work_like_keys(engine):
    clock = InternalClock(engine, 120)
    app = Console(engine, clock=clock, refresh_hz=50)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.click("#btn_tempo_up")
        await pilot.click("#btn_as_down")
        assert clock.bpm == 122 and engine.controls.anti_silence == pytest.approx(0.9)


@sync
async def test_engine_changes_show_in_the_widgets(engine):
    app = Console(engine, clock=InternalClock(engine, 120), refresh_hz=50)
    async with app.run_test() as pilot:
        engine.cc_map.handle(engine.controls, 0, 21, 127)  # temperature by MIDI CC from the input port
        flat_out(engine, 20)  # 20 16ths: position 2:1:4
        await pilot.pause(0.1)
        assert "temp 2.00" in text(app, "#controls")
        assert "2:1:4" in text(app, "#status")
        assert text(app, "#probs").strip()  # the probability strip shows something
        assert (app.roll.grid == 1).any()  # the roll shows the model's notes


@sync
async def test_failed_input_messages_show_in_the_status_line(engine):
    """A MIDI input whose callback failed on some messages keeps listening; the console says how many."""
    class Input:
        name, failures = "keys", 0

    keys = Input()
    app = Console(engine, clock=InternalClock(engine, 120), inputs=[keys], refresh_hz=50)
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        assert "failed" not in text(app, "#status")
        keys.failures = 3
        await pilot.pause(0.1)
        assert "3 input messages failed" in text(app, "#status")


@sync
async def test_help_screen(engine):
    app = Console(engine, refresh_hz=50)
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert "live-biaxial keys" in str(app.screen.query_one("#help Static").render())
        await pilot.pause(0.1)  # the refresh timer keeps running under the help screen
        app.refresh_view()
        await pilot.press("escape")
        assert not app.screen.query("#help")


def test_strip_and_roll_rendering():
    assert prob_strip(np.array([0.0, 1.0, 0.5])) == " █▄"
    model = np.zeros(78, bool)
    human = np.zeros(78, bool)
    model[ROLL_LOW - 24] = True  # the lowest row
    human[ROLL_LOW - 24 + 2] = True  # one semitone a row: the third row from the bottom
    both = model.copy()
    grid = roll_grid([(0, model, human), (1, both, np.zeros(78, bool))], rows=4, steps=3)
    assert grid.tolist() == [[0, 0, 0], [0, 2, 0], [0, 0, 0], [0, 1, 1]]  # newest 16th on the right


def test_the_roll_window_follows_the_notes_and_stays_put_while_they_fit():
    notes = np.zeros(78, bool)
    notes[[60 - 24, 64 - 24]] = True
    history = [(0, notes, np.zeros(78, bool))]
    assert roll_window(history, 20, 48) == 48  # C4 and E4 fit in 48..67: the window stays
    high = np.zeros(78, bool)
    high[[84 - 24, 90 - 24]] = True
    low = roll_window([(0, high, np.zeros(78, bool))], 20, 48)
    assert low <= 84 and 90 < low + 20  # moved to hold them
    top = np.zeros(78, bool)
    top[[100 - 24, 101 - 24]] = True
    assert roll_window([(0, top, np.zeros(78, bool))], 20, 48) == 101 - 19  # never past the model's top


@sync
async def test_the_roll_draws_model_and_human_in_two_colours(engine):
    app = Console(engine, refresh_hz=50)
    async with app.run_test(size=(100, 50)) as pilot:
        model = np.zeros(78, bool)
        human = np.zeros(78, bool)
        model[ROLL_LOW - 24] = True
        human[ROLL_LOW - 24 + 5] = True
        engine.history.extend([(0, model, human)] * 3)
        await pilot.pause(0.1)
        lines = [app.roll.render_line(y) for y in range(app.roll.size.height)]
        colours = {str(seg.style.color and seg.style.color.name) for line in lines for seg in line
                   if seg.text.strip("· ") and seg.style}
        assert {"cyan", "magenta"} <= colours
        bottom = app.roll.size.height - 1
        assert lines[bottom].text.startswith("  C3") and lines[bottom].text.rstrip().endswith("███")
        assert lines[bottom - 5].text.startswith("  F3") and lines[bottom - 5].text.rstrip().endswith("███")
        assert lines[bottom - 1].text.startswith(" C#3")  # one semitone a row: C and C# apart


@sync
@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 50)])
async def test_every_line_of_the_console_fits_the_terminal(engine, size):
    clock = InternalClock(engine, 128)
    app = Console(engine, clock=clock, refresh_hz=50)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.1)
        screen = app.screen.region
        for wid in ("#status", "#controls", "#harmony", "#probs", "#stats", "#buttons"):
            region = app.query_one(wid).region
            assert region.height and screen.contains_region(region), (wid, region, screen)
        assert app.screen.scroll_offset.y == 0
        width = size[0] - 2  # less the padding
        assert text(app, "#status").index("128 BPM") + 7 <= width
        assert len(text(app, "#controls")) <= width and len(text(app, "#harmony")) <= width
        assert app.roll.size.height >= 6


@sync
async def test_the_console_shows_the_parts_channels(tiny_model):
    import dataclasses

    e = Engine(Cell(tiny_model[1]), FakePort(), Controls(), dataclasses.replace(FLAT_OUT, split=(1, 2, 0))).open()
    app = Console(e, clock=InternalClock(e, 120), refresh_hz=50)
    try:
        async with app.run_test() as pilot:
            await pilot.pause(0.1)
            assert "ch bass 2 top 3 rest 1" in text(app, "#controls")
    finally:
        e.close()


@sync
async def test_the_console_says_when_a_key_changes_nothing_it_shows(engine):
    app = Console(engine, clock=InternalClock(engine, 120), refresh_hz=50)
    said = []
    app.notify = lambda message, **kw: said.append(message)
    async with app.run_test() as pilot:
        await pilot.press("a")  # anti-silence is at its maximum already (1.0)
        assert any("anti-silence is at its maximum" in s for s in said), said
        await pilot.press("k")  # a key root with no scale on: it says so rather than change nothing visible
        assert any("key root C#: no scale is on" in s for s in said), said
