"""The MIDI clock follower's filter: prediction through jitter, lost pulses, tempo jumps, dropout."""

import mido
import numpy as np

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
    interval = 60.0 / (300 * 24)
    ideal = 1.0 + interval * np.arange(240)
    seen = jack_like(ideal)
    kept = np.delete(seen, [100, 170])  # two pulses dropped on the way
    follower, sink = follow(kept)
    assert follower.lost_pulses == 2
    assert len(sink.pulses) == 240  # the sink saw as many pulses as the DAW sent
    # every 6th pulse (a 16th) still lands at its own time, not one pulse later
    sixteenths = np.array([t for t, _ in sink.pulses[::6]])
    assert np.abs(sixteenths - ideal[::6]).max() < 2e-3


def test_a_tempo_jump_locks_again_and_then_predicts_the_new_tempo():
    slow, fast = 60.0 / (110 * 24), 60.0 / (170 * 24)
    times = np.concatenate([1.0 + slow * np.arange(96), 1.0 + slow * 95 + fast * np.arange(1, 145)])
    follower, sink = follow(jack_like(times))
    after = sink.pulses[96:]
    assert after[0][1] is None  # the first pulse of the new tempo: no prediction, play on the tick
    assert all(nt is None for _, nt in after[: LOCK_PULSES - 2])
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
    interval = 60.0 / (300 * 24)
    ideal = 1.0 + interval * np.arange(240)
    seen = jack_like(ideal)
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
    sixteenths = np.array([t for t, _ in sink.pulses[::6]])
    assert np.abs(sixteenths - ideal[::6]).max() < 2e-3
