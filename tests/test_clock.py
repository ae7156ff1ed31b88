"""The MIDI clock follower's filter: prediction through jitter, lost pulses, tempo jumps, dropout."""

import json
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from live_biaxial.clock import LOCK_PULSES, MidiClockFollower

CLOCK, START = mido.Message("clock"), mido.Message("start")


class RecordingSink:
    def __init__(self):
        self.pulses = []  # (t, next_t)
        self.calls = []

    def start(self, sixteenth, t):
        self.calls.append("start")

    def pulse(self, t, next_t):
        self.pulses.append((t, next_t))

    def stop(self):
        self.calls.append("stop")

    def continue_(self, t):
        self.calls.append("continue")

    def locate(self, sixteenth):
        self.calls.append(("locate", sixteenth))


def follow(times, start=0.0):
    sink = RecordingSink()
    follower = MidiClockFollower(sink, dropout_s=100.0)  # the watchdog stays out of these tests
    try:
        follower(START, start)
        for t in times:
            follower(CLOCK, t)
    finally:
        follower.close()
    return follower, sink


def jack_like(ideal, period_s=32 / 48000, seed=0):
    """What a JACK client sees: each pulse at the start of the next period, plus a little wake-up noise."""
    rng = np.random.default_rng(seed)
    seen = (np.floor(ideal / period_s) + 1) * period_s
    return seen + rng.uniform(0, 0.0002, len(ideal))


def pulses_at(bpm, n):
    """(interval, ideal pulse times, what a JACK client sees) for n pulses from t = 1 s."""
    interval = 60.0 / (bpm * 24)
    ideal = 1.0 + interval * np.arange(n)
    return interval, ideal, jack_like(ideal)


def assert_sixteenths_on_time(sink, ideal):
    """Every 6th pulse the sink saw (a 16th) lands at its own time, not a pulse early or late."""
    sixteenths = np.array([t for t, _ in sink.pulses[::6]])
    assert np.abs(sixteenths - ideal[::6]).max() < 2e-3


def test_predictions_filter_out_the_drivers_jitter():
    interval = 60.0 / (120 * 24)
    ideal = 1.0 + interval * np.arange(400)
    seen = jack_like(ideal)
    follower, sink = follow(seen)
    assert len(sink.pulses) == 400
    assert all(nt is None for _, nt in sink.pulses[:LOCK_PULSES - 1])  # no guesses while locking
    # after a few beats the predicted next pulse is the true one plus the mean delay, steadier
    # than what arrives (whose spread is a whole JACK period)
    lag = np.mean(seen - ideal)
    pred_err = np.array([nt for _, nt in sink.pulses[100:399]]) - (ideal[101:400] + lag)
    seen_err = seen[101:400] - (ideal[101:400] + lag)
    assert np.abs(pred_err).max() < 0.25e-3
    assert np.std(pred_err) < 0.5 * np.std(seen_err)
    assert abs(follower.bpm - 120.0) < 0.05
    assert follower.lost_pulses == 0


def test_a_lost_pulse_is_counted_so_the_grid_does_not_slip():
    _, ideal, seen = pulses_at(300, 240)
    kept = np.delete(seen, [100, 170])  # two pulses dropped on the way
    follower, sink = follow(kept)
    assert follower.lost_pulses == 2
    assert len(sink.pulses) == 240  # the sink saw as many pulses as the DAW sent
    # every 6th pulse (a 16th) still lands at its own time, not one pulse later
    assert_sixteenths_on_time(sink, ideal)


def test_a_tempo_jump_locks_again_and_then_predicts_the_new_tempo():
    slow, fast = 60.0 / (110 * 24), 60.0 / (170 * 24)
    times = np.concatenate([1.0 + slow * np.arange(96), 1.0 + slow * 95 + fast * np.arange(1, 145)])
    follower, sink = follow(jack_like(times))
    after = sink.pulses[96:]
    # the first pulse of the new tempo could be one late pulse; the second one relocks: no
    # prediction (play on the tick) until a beat of pulses from the last on the old grid has been measured
    assert after[1][1] is None
    assert all(nt is None for _, nt in after[1: LOCK_PULSES - 2])
    assert after[-1][1] is not None and abs(follower.bpm - 170) < 0.5
    assert follower.lost_pulses == 0


def test_small_tempo_drift_is_followed_without_relocking():
    interval = 60.0 / (120 * 24)
    steps = interval * (1 + 0.0002 * np.arange(480))  # a slow ritardando, ~10% over 20 beats
    times = 1.0 + np.concatenate([[0.0], np.cumsum(steps[:-1])])
    follower, sink = follow(jack_like(times))
    assert all(nt is not None for _, nt in sink.pulses[LOCK_PULSES:])
    assert abs(follower.interval - steps[-1]) / steps[-1] < 0.01


def test_stop_and_song_position_reach_the_sink():
    sink = RecordingSink()
    follower = MidiClockFollower(sink)
    try:
        follower(mido.Message("stop"), 1.0)
        follower(mido.Message("songpos", pos=32), 1.1)
        follower(mido.Message("continue"), 1.2)
    finally:
        follower.close()
    assert sink.calls == ["stop", ("locate", 32), "continue"]


def test_a_late_pulse_is_not_counted_twice():
    interval, ideal, seen = pulses_at(300, 240)
    seen[100] += 0.8 * interval  # held up on the way: it comes just before the next one
    follower, sink = follow(seen)
    assert len(sink.pulses) == 240 and follower.lost_pulses == 0
    sixteenths = np.array([t for t, _ in sink.pulses[::6]])
    assert np.abs(sixteenths - ideal[::6]).max() < 0.5 * interval  # no 16th moved by a pulse


def test_a_pulse_lost_while_locking_is_counted_too():
    interval = 60.0 / (300 * 24)
    ideal = 1.0 + interval * np.arange(120)
    follower, sink = follow(np.delete(jack_like(ideal), 10))  # lost in the first beat
    assert follower.lost_pulses == 1 and len(sink.pulses) == 120
    assert_sixteenths_on_time(sink, ideal)


def test_one_late_pulse_keeps_the_lock():
    _, _, seen = pulses_at(300, 240)
    seen[150] += 0.002  # a late JACK cycle: 2 ms, beyond the relock threshold
    follower, sink = follow(seen)
    assert all(nt is not None for _, nt in sink.pulses[LOCK_PULSES:])  # never back to playing on the tick
    assert len(sink.pulses) == 240 and follower.lost_pulses == 0


def test_a_doubled_pulse_is_not_counted():
    _, ideal, seen = pulses_at(300, 240)
    doubled = np.insert(seen, 121, seen[120] + 20e-6)  # JACK delivered pulse 120 twice
    follower, sink = follow(doubled)
    assert len(sink.pulses) == 240 and follower.doubled_pulses == 1 and follower.lost_pulses == 0
    assert_sixteenths_on_time(sink, ideal)


def test_a_very_late_pulse_is_not_taken_for_a_lost_one():
    interval, _, seen = pulses_at(300, 240)
    seen[100] += 0.9 * interval  # where pulse 101 belongs: counted as lost at first...
    seen[101] += 0.5 * interval  # ...but the next one is early for that reading: it was only late
    follower, sink = follow(seen)
    assert len(sink.pulses) == 240 and follower.lost_pulses == 0



@pytest.mark.parametrize("burst", [6, LOCK_PULSES + 2])
def test_a_burst_of_pulses_at_one_time_while_locking_does_not_stop_the_follower(burst):
    """Under load JACK can hand over pulses held up for a while all at once, with one time stamp. Measured
    from them the tempo is 0: no division by it (that killed the input thread), and the lock comes after."""
    _, ideal, seen = pulses_at(120, 480)
    seen[1:burst] = seen[0]
    follower, sink = follow([float(t) for t in seen])  # Python floats, as perf_counter gives: 1 / 0.0 raises
    assert len(sink.pulses) == 480 and follower.lost_pulses == 0
    assert follower.bpm == pytest.approx(120, rel=1e-3)
    late = np.array([t for t, _ in sink.pulses[240::6]])  # from the second bar on
    assert np.abs(late - ideal[240::6]).max() < 2e-3
    assert all(nt is not None for _, nt in sink.pulses[-LOCK_PULSES:])  # locked again, predicting

TRACES = sorted((Path(__file__).parent / "data" / "clock").glob("*.json"))


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_recorded_jack_clock_keeps_the_count(path):
    """Real arrivals through JACK (losses, a doubled pulse, late cycles): the sink sees as many
    pulses as the DAW sent, each pulse counted where it belongs, and the lock holds."""
    trace = json.loads(path.read_text())
    sink = RecordingSink()
    follower = MidiClockFollower(sink, dropout_s=100.0)
    # The trace's times move to now: its own (another boot's clock) would look long stale to the
    # dropout watchdog, which compares them with perf_counter and stopped the replay when it woke.
    offset = time.perf_counter() - trace["arrived_jack_us"][0] * 1e-6
    wrong = []
    try:
        follower(START, trace["arrived_jack_us"][0] * 1e-6 + offset - 0.002)
        for t, index in zip(trace["arrived_jack_us"], trace["index"]):
            follower(CLOCK, t * 1e-6 + offset)
            if len(sink.pulses) != index + 1:
                wrong.append(index)
    finally:
        follower.close()
    assert len(sink.pulses) == len(trace["sent_us"])
    assert len(wrong) <= 2 * (len(trace["sent_us"]) - len(set(trace["index"])))  # only right at a lost pulse
    assert all(nt is not None for _, nt in sink.pulses[LOCK_PULSES:])  # late JACK cycles never broke the lock


def daw_clock(kind: str, bpm: float, seed: int, n: int = 24 * 16):
    """n pulses a DAW sends at bpm, as they arrive through USB MIDI and a busy DAW: each within +-2 ms of its
    time, and (kind) some lost, doubled, held up and handed over three at once (a late burst), or all the
    later ones after a dropout of 0.3..2 s starting at any pulse (the DAW's clock paused, not stopped)."""
    rng = np.random.default_rng(seed)
    interval = 60.0 / (bpm * 24)
    events = list(1.0 + interval * np.arange(n) + rng.uniform(-0.002, 0.002, n))
    every = range(40, n - 10, int(rng.integers(30, 60)))  # isolated: one in 30..60 pulses
    if kind == "lost":
        for i in every:
            events[i] = None
    elif kind == "doubled":
        for i in reversed(every):
            events.insert(i + 1, events[i] + rng.uniform(0.0001, 0.001))
    elif kind == "burst":
        for i in every:
            late = events[i + 2] + rng.uniform(0, 0.001)
            events[i : i + 3] = [late, late + 0.0001, late + 0.0002]
    elif kind == "dropout":
        i, pause = int(rng.integers(60, n - 60)), rng.uniform(0.3, 2.0)
        events[i:] = [t + pause for t in events[i:]]
    return sorted(t for t in events if t is not None)


@pytest.mark.parametrize("kind", ["jitter", "lost", "doubled", "burst", "dropout"])
def test_the_grid_holds_through_what_a_daw_really_sends(kind):
    """At 20..300 BPM with +-2 ms of jitter (at 300 BPM a quarter of an interval), over 24 seeds each: the
    sink sees exactly as many pulses as the DAW sent, in every seed; no slipped pulse."""
    slipped = {}
    for bpm in (20, 60, 120, 200, 300):
        for seed in range(24):
            follower, sink = follow(daw_clock(kind, bpm, seed), start=0.5)
            if len(sink.pulses) != 24 * 16:
                slipped[(bpm, seed)] = len(sink.pulses) - 24 * 16
    assert not slipped, slipped


def test_with_jitter_the_sixteenths_still_land_on_their_time():
    interval = 60.0 / (300 * 24)
    ideal = 1.0 + interval * np.arange(24 * 16)
    follower, sink = follow(daw_clock("jitter", 300, 7), start=0.5)
    late = np.array([t for t, _ in sink.pulses[48::6]])  # once locked
    assert np.abs(late - ideal[48::6]).max() < 1.5e-3  # the DLL's time, not the +-2 ms arrivals


def take(follower, times, start):
    """Start at ``start``, then pulses at ``times``, then Stop (with no pulses after it, as jack_midi_clock)."""
    follower(START, start)
    for t in times:
        follower(CLOCK, float(t))
    follower(mido.Message("stop"), float(times[-1]) + 0.01)


def sixteenth_times(sink, since):
    """The times of the pulses that start a 16th, from the sink's ``since``-th pulse on."""
    return np.array([t for t, _ in sink.pulses[since::6]])


@pytest.mark.parametrize("known_tempo", [False, True], ids=["first-take", "tempo-known"])
@pytest.mark.parametrize("fault", ["first-lost", "second-lost", "doubled"])
def test_a_fault_in_a_takes_first_pulses_does_not_shift_the_take(fault, known_tempo):
    """Start's own time anchors the grid (jack_midi_clock sends Start and the first pulse in one cycle): a lost
    first pulse, one lost or doubled among the first, is put right, by the last take's tempo from the first
    pulse, or once the take's own first pulses fit a line; from then on every 16th is on its pulse."""
    interval, ideal, seen = pulses_at(180, 24 * 8)
    start = float(ideal[0])  # the same JACK cycle as the first pulse
    faulty = {"first-lost": np.delete(seen, 0), "second-lost": np.delete(seen, 2),
              "doubled": np.insert(seen, 2, seen[1] + 30e-6)}[fault]
    sink = RecordingSink()
    with MidiClockFollower(sink, dropout_s=100.0) as follower:
        if known_tempo:  # a take before this one, 10 s earlier
            take(follower, seen - 10.0, start - 10.0)
            sink.pulses.clear()
        take(follower, faulty, start)
    assert len(sink.pulses) == len(ideal)  # as many as were sent, none doubled or left out
    assert np.abs(sixteenth_times(sink, 6) - ideal[6::6]).max() < 2e-3  # from the second 16th on, on time
    if known_tempo:  # predicted from the first pulse on
        assert all(nt is not None for _, nt in sink.pulses)


def test_a_pulse_late_after_a_gap_goes_to_its_nearest_slot():
    """180 BPM through JACK: a pulse lost, and the one after it late by 3 ms (more than the 2.1 ms tolerance):
    still its own slot, two after the last, and the grid does not move."""
    interval, ideal, seen = pulses_at(180, 24 * 16)
    seen[101] += 0.003
    follower, sink = follow(np.delete(seen, 100))
    assert len(sink.pulses) == len(ideal) and follower.lost_pulses == 1
    assert_sixteenths_on_time(sink, ideal)


def test_a_tempo_halved_is_followed_not_taken_for_lost_pulses():
    """Every pulse twice as late as the last tempo's: not a lost pulse each time (twice the 16ths)."""
    fast, slow = 60.0 / (160 * 24), 60.0 / (80 * 24)
    times = np.concatenate([1.0 + fast * np.arange(96), 1.0 + fast * 95 + slow * np.arange(1, 97)])
    follower, sink = follow(jack_like(times))
    assert abs(len(sink.pulses) - 192) <= 1 and follower.lost_pulses <= 1
    assert abs(follower.bpm - 80) < 0.5


def test_a_clock_without_start_is_joined_at_the_next_bar_line_and_said():
    """The clock comes back after silence at song position 0 but its Start was lost: after a beat of steady
    clock the take is joined at the next bar line, and the follower says so."""
    interval, ideal, seen = pulses_at(120, 24 * 12)
    sink = RecordingSink()
    with MidiClockFollower(sink, dropout_s=0.25, bar_pulses=12 * 6) as follower:  # bars of 3/4
        follower(mido.Message("stop"), 0.5)
        follower(mido.Message("songpos", pos=0), 0.6)
        for t in seen:
            follower(CLOCK, float(t))
    # a beat, then the next bar line: 16th 12 (pulse 72)
    assert sink.calls[-1] == "start" and follower.joined == 1 and follower.running
    assert len(sink.pulses) == len(ideal) - 72
    assert sink.pulses[0][0] == pytest.approx(ideal[72], abs=2e-3)
    assert list(follower.notes) == ["no Start came with the clock: joined at bar 2 (16th 12)"]


def test_a_clock_after_a_song_position_waits_for_continue():
    """jack_midi_clock after a locate: the song position, clock from the transport's place, and a Continue once
    the transport reaches that position (2 s on): nothing is joined before, the take goes on from there."""
    interval, ideal, seen = pulses_at(120, 24 * 12)
    sink = RecordingSink()
    with MidiClockFollower(sink, dropout_s=0.25) as follower:
        follower(mido.Message("stop"), 0.5)
        follower(mido.Message("songpos", pos=40), 0.6)
        for t in seen[:192]:  # 2 s of lead-in
            follower(CLOCK, float(t))
        assert follower.joined == 0 and sink.pulses == [] and follower.status == "waiting for Continue"
        follower(mido.Message("continue"), float(seen[192]))
        for t in seen[192:]:
            follower(CLOCK, float(t))
    assert sink.calls == ["stop", ("locate", 40), "continue"] and len(sink.pulses) == 96
    assert all(nt is not None for _, nt in sink.pulses)


def test_a_clock_running_while_stopped_waits_for_start_and_gives_the_tempo():
    """A DAW's clock while stopped plays nothing and says it waits; Start then predicts from its first pulse."""
    interval, ideal, seen = pulses_at(120, 24 * 8)
    sink = RecordingSink()
    with MidiClockFollower(sink, dropout_s=100.0) as follower:
        for t in seen[:96]:  # four beats before Start
            follower(CLOCK, float(t))
        assert sink.pulses == [] and follower.status == "waiting for Start" and follower.joined == 0
        follower(START, float(seen[95]) + 0.3 * interval)
        for t in seen[96:]:
            follower(CLOCK, float(t))
    assert len(sink.pulses) == 96 and all(nt is not None for _, nt in sink.pulses)
    assert np.abs(sixteenth_times(sink, 0) - ideal[96::6]).max() < 1e-3


def test_a_pulse_the_sender_drops_at_a_change_of_tempo_is_counted():
    """jack_midi_clock at a faster tempo skips the tick that fell in the cycle it had already sent: a gap of two
    new intervals right at the change. Placed by the new tempo once it is known, it is counted, so the 16ths
    after the change stay on the sender's grid."""
    slow, fast = 60.0 / (180 * 24), 60.0 / (240 * 24)
    before = 1.0 + slow * np.arange(96)
    after = before[-1] + fast * np.arange(2, 120)  # the first tick at the new tempo never sent
    follower, sink = follow(jack_like(np.concatenate([before, after])))
    assert len(sink.pulses) == 96 + 119 and follower.lost_pulses == 1
    sent = np.concatenate([before, before[-1] + fast * np.arange(1, 120)])
    late = np.array([t for t, _ in sink.pulses[150::6]])  # once locked again
    assert np.abs(late - sent[150::6]).max() < 2e-3
