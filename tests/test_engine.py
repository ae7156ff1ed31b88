"""The engine's logic on a fake port and a fake clock that runs flat out."""

import threading
import time

import mido
import numpy as np
import pytest

from live_biaxial.clock import sleep_until
from live_biaxial.steering.controls import CC_ANTI_SILENCE, CC_DENSITY, CC_TEMPERATURE, Controls
from live_biaxial.engine import Engine, EngineSettings, Recorder
from live_biaxial.model_file import Cell
from live_biaxial.music.representation import LOW_NOTE, midi_to_matrix
from tests.fakes import CountingCell, FakePort, flat_engine, flat_out, hanging_notes


@pytest.fixture
def cell(tiny_model):
    return Cell(tiny_model[1])


def notes_only(msgs):
    return [m for m in msgs if m.type in ("note_on", "note_off")]


def test_one_step_per_16th_with_lookahead_and_beat_index(cell):
    counting = CountingCell(cell)
    port = FakePort()
    engine = flat_engine(counting, port)
    flat_out(engine, 8)
    engine.close()
    # 16th 0 is prepared before Start (fed the state "before" it: the last 16th of a bar, 15), then one
    # step after each 16th is sent, fed the previous 16th's place in its bar; the first 8 are the warm-up's
    played = counting.steps[8:]
    assert played[0] == 15 and played[1:] == list(range(len(played) - 1)) and len(played) >= 8
    assert engine.sixteenth == 8


def test_stop_releases_every_note_and_sends_cc123(cell):
    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0))
    flat_out(engine, 16)
    assert hanging_notes(port.sent)  # something is sounding before the stop
    engine.stop()
    assert not hanging_notes(port.sent)
    assert port.sent[-1].type == "control_change" and port.sent[-1].control == 123
    assert not engine.sounding.any()


def all_notes_off(msgs) -> int:
    return sum(m.type == "control_change" and m.control == 123 for m in msgs)


def test_a_release_goes_in_bursts_the_port_carries_and_once_more_after_stopping(cell):
    """JACK carries about 8 events a period and drops the rest, and drops a late client's whole cycle: a
    release goes burst_limit at a time, and on Stop all of it again RELEASE_AGAIN_S later."""
    from live_biaxial.engine.engine import RELEASE_AGAIN_S

    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0), burst_limit=1)
    flat_out(engine, 16)
    time.sleep(0.05)  # the last 16th's bursts have gone
    sounding = int(engine.sounding.sum())
    assert sounding >= 2  # more than one burst to release
    before = len(port.sent)
    engine.stop()
    assert len(port.sent) - before == 1  # the first burst at once, the rest from the sender's thread
    time.sleep(RELEASE_AGAIN_S + 0.3)  # (a burst a sleep apart: up to 78 notes, and a busy machine)
    after = port.sent[before:]
    released = {m.note - LOW_NOTE for m in after if m.type == "note_off"}
    assert len(released) == sounding and not engine.sounding.any()
    assert sum(m.type == "note_off" for m in after) == 2 * sounding and all_notes_off(after) == 2
    engine.close()


def test_a_release_in_bursts_gets_out_whole_when_close_follows_stop(cell):
    """Ctrl-C: the clock stops the engine, then play closes it at once: the first release's later bursts still go."""
    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0), burst_limit=1)
    flat_out(engine, 16)
    time.sleep(0.05)  # the last 16th's bursts have gone
    sounding = set(np.flatnonzero(engine.sounding))
    assert len(sounding) >= 2
    before = len(port.sent)
    engine.stop()
    engine.close()
    time.sleep(0.1)
    assert {m.note - LOW_NOTE for m in port.sent[before:] if m.type == "note_off"} == sounding


def test_a_start_right_after_stop_drops_the_release_sent_again(cell):
    """The second release must not cut the new take's first notes."""
    from live_biaxial.engine.engine import RELEASE_AGAIN_S

    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0))
    flat_out(engine, 16)
    engine.stop()
    flat_out(engine, 4)  # Start at once
    before = len(port.sent)
    time.sleep(RELEASE_AGAIN_S + 0.05)
    assert port.sent[before:] == []
    engine.close()


def test_the_first_sixteenth_of_a_start_after_stop_is_ready_on_its_pulse(cell):
    """Stop prepares the step of 16th 0 meanwhile: a Start whose first pulse comes right with it finds it ready
    (a step is a few ms: waiting for it put the take's first notes late); a Continue prepares its own 16th."""
    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=1.0))
    flat_out(engine, 8)
    engine.stop()
    time.sleep(0.1)  # the musician takes a breath
    late = engine.late
    engine.start(0, 0.0)
    engine.pulse(0.0, 0.02)
    assert engine.late == late
    engine.stop()
    time.sleep(0.1)
    engine.continue_(1.0)
    assert engine._want == engine.sixteenth  # its own 16th, not the top's
    engine.close()


def test_note_offs_follow_the_note_state(cell):
    port = FakePort()
    engine = flat_engine(cell, port)
    flat_out(engine, 32)
    engine.close()
    sounding = set()
    for m in notes_only(port.sent):
        if m.type == "note_on":
            assert m.note not in sounding, "struck again without a note-off first"
            sounding.add(m.note)
        else:
            sounding.discard(m.note)
    assert not sounding


def test_channel_change_mid_play_releases_on_the_old_channel(cell):
    port = FakePort()
    controls = Controls(density=3.0, channel=0)
    engine = flat_engine(cell, port, controls)
    flat_out(engine, 4)
    controls.update(channel=5)
    flat_out(engine, 4, start=False)
    engine.close()
    assert not hanging_notes(port.sent)
    assert {m.channel for m in port.sent if m.type == "note_on"} == {0, 5}


def test_key_lock_and_range_keep_notes_inside(cell):
    port = FakePort()
    controls = Controls(density=2.0, key_root=2, scale="major", low=50, high=80)  # D major
    engine = flat_engine(cell, port, controls)
    flat_out(engine, 32)
    ons = [m.note for m in port.sent if m.type == "note_on"]
    assert ons and all(50 <= n <= 80 and (n - 2) % 12 in (0, 2, 4, 5, 7, 9, 11) for n in ons)


def test_human_notes_join_the_models_view_and_are_not_echoed(cell):
    counting = CountingCell(cell)
    port = FakePort()
    engine = flat_engine(counting, port, Controls(low=90, high=101))  # the model itself stays above 90
    flat_out(engine, 2)
    engine.human(mido.Message("note_on", note=40, velocity=100))
    flat_out(engine, 2, start=False)
    n = 40 - LOW_NOTE
    assert counting.fed[-2][n].tolist() == [1.0, 1.0]  # struck at the next step
    assert counting.fed[-1][n].tolist() == [1.0, 0.0]  # then held
    assert 40 not in [m.note for m in port.sent if m.type == "note_on"]
    engine.human(mido.Message("note_off", note=40))
    flat_out(engine, 1, start=False)
    assert counting.fed[-1][n, 0] == 0.0


def test_cc_moves_the_controls(cell):
    engine = flat_engine(cell, FakePort())
    engine.human(mido.Message("control_change", control=CC_ANTI_SILENCE, value=0))
    engine.human(mido.Message("control_change", control=CC_TEMPERATURE, value=127))
    engine.human(mido.Message("control_change", control=CC_DENSITY, value=127))
    c = engine.controls
    assert c.anti_silence == 0.0 and c.temperature == pytest.approx(2.0) and c.density == pytest.approx(4.0)


def test_a_lost_port_does_not_crash_the_engine(cell):
    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0))
    flat_out(engine, 4)
    port.broken = True
    flat_out(engine, 4, start=False)
    engine.close()
    assert engine.port_lost and not engine.sounding.any()


def test_locate_moves_the_beat_index(cell):
    counting = CountingCell(cell)
    engine = flat_engine(counting, FakePort())
    flat_out(engine, 2)
    engine.locate(70)
    flat_out(engine, 1, start=False)
    assert 69 % 16 in counting.steps[-2:]  # the 16th before 70: the 6th of its bar
    assert engine.sixteenth == 71


def test_record_writes_both_tracks(cell, tmp_path):
    rec = Recorder(str(tmp_path / "r.mid"))
    engine = flat_engine(cell, FakePort(), Controls(density=3.0), recorder=rec)
    flat_out(engine, 8)
    engine.human(mido.Message("note_on", note=60, velocity=90))
    engine.human(mido.Message("note_off", note=60))
    engine.close()
    rec.save()
    midi = mido.MidiFile(tmp_path / "r.mid")
    assert [t.name for t in midi.tracks] == ["live-biaxial", "human"]
    m, _ = midi_to_matrix(tmp_path / "r.mid")
    assert m[..., 0].sum() > 0
    assert not hanging_notes([x for x in midi.tracks[0] if not x.is_meta])


def test_send_clock_passes_start_clock_stop_to_the_port(cell):
    from live_biaxial.clock import InternalClock
    from live_biaxial.cli.play import _ClockOut

    port = FakePort()
    engine = Engine(cell, port).open()
    clock = InternalClock(_ClockOut(engine, port), bpm=300)
    clock.run(sixteenths=4)
    engine.close()
    types = [m.type for m in port.sent]
    assert types[0] == "start" and types.count("clock") == 24 and "stop" in types
    assert engine.sixteenth == 4 and not hanging_notes(port.sent)


class StampingPort(FakePort):
    def __init__(self):
        super().__init__()
        self.times = []  # (perf_counter at send, message)

    def send(self, msg):
        super().send(msg)
        self.times.append((time.perf_counter(), msg))


def play_late_pulses(engine, port, predict):
    """A clock whose pulses reach the engine 10 ms after their (filtered) time, at 240 BPM; with
    ``predict`` it passes the next pulse's time, as the MIDI clock follower does once locked.
    Returns, for each note-on, when it was sent minus its 16th's tick."""
    dt = 60.0 / (240 * 24)
    t0 = time.perf_counter() + 0.05
    engine.start(0, t0)
    for k in range(12 * 6):
        tick = t0 + k * dt
        sleep_until(tick + 0.010)
        engine.pulse(tick, tick + dt if predict else None)
    engine.close()
    ticks = t0 + 6 * dt * np.arange(12)
    return np.array([t - ticks[ticks <= t + 1e-4][-1] for t, m in port.times if m.type == "note_on"])


def test_send_early_plays_on_the_predicted_tick_not_when_the_pulse_arrives(cell):
    port = StampingPort()
    lag = play_late_pulses(Engine(cell, port, Controls(density=3.0), EngineSettings(send_early=True)).open(), port, predict=True)
    assert len(lag) > 5 and np.median(lag) < 0.005  # sent near the tick, before its pulse arrived


def test_without_a_prediction_the_notes_wait_for_the_tick(cell):
    port = StampingPort()
    lag = play_late_pulses(Engine(cell, port, Controls(density=3.0), EngineSettings(send_early=True)).open(), port, predict=False)
    assert len(lag) > 5 and lag.min() >= 0.010  # a clock that cannot predict (a tempo jump): on the pulse


def test_a_key_prime_is_heard_before_the_first_16th_and_not_played(cell):
    from live_biaxial.steering.generation import key_prime

    prime = key_prime(2, minor=True)  # (16, 78, 2): I IV V I in D minor
    counting = CountingCell(cell)
    port = FakePort()
    engine = flat_engine(counting, port, Controls(), prime=prime)
    heard = slice(8, 8 + len(prime))  # after the 8 warm-up steps: 15 prime steps, then the first 16th
    assert counting.steps[heard] == list(range(len(prime) - 1)) + [15]  # the 16th after the bar-long cadence
    for t, fed in enumerate(counting.fed[heard]):
        assert np.array_equal(fed, prime[t])
    assert not port.sent  # heard, not played
    flat_out(engine, 16)
    assert [m for m in port.sent if m.type == "note_on"]


def test_a_port_that_comes_back_is_cleared_and_hears_every_held_note_again(cell):
    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0))
    flat_out(engine, 4)
    engine.port_gone()
    port.broken = True
    flat_out(engine, 4, start=False)  # notes start and are held while nothing gets through
    port.broken = False
    back = len(port.sent)
    engine.port_back()
    flat_out(engine, 1, start=False)
    engine_sounding = {int(n) + LOW_NOTE for n in np.flatnonzero(engine.sounding)}
    after = port.sent[back:]
    assert after[0].type == "control_change" and after[0].control == 123  # the synth is cleared first
    struck = {m.note for m in after if m.type == "note_on"}
    assert engine_sounding and engine_sounding <= struck  # what the engine thinks sounds, really sounds
    engine.close()


def test_continue_in_the_middle_of_a_16th_keeps_the_grid(cell):
    engine = flat_engine(cell, FakePort())
    dt = 60.0 / (120 * 24)
    engine.start(0, 0.0)
    for k in range(15):  # two and a half 16ths: 16ths 0, 1, 2 struck on pulses 0, 6, 12
        engine.pulse(k * dt, (k + 1) * dt)
    assert engine.sixteenth == 3
    engine.stop()
    engine.continue_(15 * dt)
    pulses = 15
    while engine.sixteenth == 3:
        engine.pulse(pulses * dt, (pulses + 1) * dt)
        pulses += 1
    assert pulses == 19  # 16th 3 on pulse 18, as on the DAW's grid (not on the first pulse after Continue)
    engine.close()


def test_split_sends_the_bass_the_top_voice_and_the_rest_to_their_channels():
    from live_biaxial.engine.notes import SoundingNotes

    def chord(*midi, held=()):
        m = np.zeros((78, 2), np.float32)
        for n in midi:
            m[n - LOW_NOTE] = (1, 0 if n in held else 1)
        return m

    out, vel, split = SoundingNotes(), np.full(78, 80), (1, 2, 0)  # bass on 2, top on 3, the rest on 1
    msgs = out.changes(chord(48, 52, 55, 60), vel, channel=5, split=split)
    for m in msgs:
        out.sent(m)
    assert {m.note: m.channel for m in msgs} == {48: 1, 52: 0, 55: 0, 60: 2}
    # E3 stops, the top voice moves up: the new note is the top; the held C4 stays on its channel, unsent
    msgs = out.changes(chord(48, 55, 60, 64, held=(48, 55, 60)), vel, channel=5, split=split)
    for m in msgs:
        out.sent(m)
    assert [(m.type, m.note, m.channel) for m in msgs] == [("note_off", 52, 0), ("note_on", 64, 2)]
    msgs = out.changes(chord(50), vel, channel=5, split=split)  # everything stops but a new bass note
    offs = {m.note: m.channel for m in msgs if m.type == "note_off"}
    assert offs == {48: 1, 55: 0, 60: 2, 64: 2}  # each note-off on the channel its note was struck on
    assert [(m.note, m.channel) for m in msgs if m.type == "note_on"] == [(50, 1)]


def test_a_split_performance_uses_its_channels_and_leaves_nothing_hanging(cell):
    port = FakePort()
    engine = flat_engine(cell, port, Controls(density=3.0), split=(1, 2, 0))
    flat_out(engine, 16)
    engine.close()
    ons = [m for m in port.sent if m.type == "note_on"]
    assert len({m.channel for m in ons}) >= 2 and {m.channel for m in ons} <= {0, 1, 2}
    assert not hanging_notes(port.sent)
    released = {m.channel for m in port.sent if m.type == "control_change" and m.control == 123}
    assert {0, 1, 2} <= released  # CC 123 on every channel of the split


def test_a_take_that_ends_with_notes_held_saves_every_note_ended(tmp_path):
    """Stopped with a key down, or between a note's sending and its bookkeeping: the file still has no
    note left sounding in either track."""
    rec = Recorder(str(tmp_path / "held.mid"))
    rec.add(mido.Message("note_on", note=60, velocity=80), track=0)
    rec.add(mido.Message("note_on", note=64, velocity=80), track=0)
    rec.add(mido.Message("note_off", note=64), track=0)
    rec.add(mido.Message("note_on", channel=3, note=50, velocity=70), track=1)
    rec.save()
    midi = mido.MidiFile(tmp_path / "held.mid")
    for track in midi.tracks:
        notes = [x for x in track if not x.is_meta]
        assert notes and not hanging_notes(notes)
    assert [(m.type, m.note) for m in midi.tracks[0] if not m.is_meta] == [
        ("note_on", 60), ("note_on", 64), ("note_off", 64), ("note_off", 60)]


def test_play_sends_from_a_thread_of_its_own(monkeypatch, tmp_path):
    """Python runs signal handlers in the main thread: with the clock on a thread of its own a Ctrl-C can
    never land between a message going to the port and its being counted and recorded."""
    from live_biaxial.cli import main
    from live_biaxial.cli import play

    class ThreadNotingPort(FakePort):
        def __init__(self):
            super().__init__()
            self.senders = []  # (thread, message)

        def send(self, msg):
            self.senders.append((threading.current_thread(), msg))
            super().send(msg)

    port = ThreadNotingPort()
    monkeypatch.setattr(play, "backend", lambda api: type("B", (), {"api": "fake"})())
    monkeypatch.setattr(play, "open_output", lambda b, name: port)
    rec = tmp_path / "take.mid"
    assert main(["play", "--port", "fake", "--bars", "1", "--bpm", "300", "--density", "3",
                 "--no-tui", "--quiet", "--record", str(rec)]) == 0
    assert any(m.type == "note_on" for m in port.sent) and not hanging_notes(port.sent)
    note_ons = [thread for thread, m in port.senders if m.type == "note_on"]
    assert note_ons and threading.main_thread() not in note_ons  # the main thread only releases, at the end
    assert port.closed


def test_play_ends_with_one_line_and_every_note_released_when_an_input_stops_listening(monkeypatch, capsys):
    from live_biaxial.cli import main
    from live_biaxial.cli import play

    class DeadInput:
        name, failures, dropped = "Keys", 0, 0

        def __init__(self):
            self.born = time.perf_counter()

        @property
        def dead(self):
            return "the input 'Keys' stopped (OSError: gone, 4 times)" if time.perf_counter() - self.born > 0.5 else ""

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    port = FakePort()
    monkeypatch.setattr(play, "backend", lambda api: type("B", (), {"api": "fake"})())
    monkeypatch.setattr(play, "open_output", lambda b, name: port)
    monkeypatch.setattr(play, "open_input", lambda b, name, callback, stamped=False: DeadInput())
    code = main(["play", "--port", "fake", "--input", "Keys", "--bpm", "300", "--density", "3", "--no-tui", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "the input 'Keys' stopped" in err and "Traceback" not in err
    assert any(m.type == "note_on" for m in port.sent) and not hanging_notes(port.sent)


def test_play_returns_to_its_caller_and_leaves_no_exit_pending(monkeypatch):
    """The exit guard (closing a port may hang) is called off once the ports closed: a caller that goes on
    after play (a test, a host program) is not ended 3 s later."""
    import threading

    from live_biaxial.cli import main
    from live_biaxial.cli import play

    monkeypatch.setattr(play, "backend", lambda api: type("B", (), {"api": "fake"})())
    monkeypatch.setattr(play, "open_output", lambda b, name: FakePort())
    assert main(["play", "--port", "fake", "--bars", "1", "--bpm", "300", "--no-tui", "--quiet"]) == 0
    timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    for t in timers:
        t.join(0.5)  # a cancelled timer's thread ends at once
    assert not [t for t in timers if t.is_alive()]
