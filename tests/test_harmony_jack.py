"""A tiny model that knows chords, trained to play the chord's root, through `play` on real JACK ports: it follows
a chart across bar lines (in 4/4 and 3/4), and a chord track on its own channel apart from the player's notes."""

import time

import numpy as np
import pytest
import torch

from live_biaxial.music.chords import QUALITIES, Chord
from live_biaxial.music.representation import LOW_NOTE, N_NOTES
from live_biaxial_training.config import ModelConfig
from live_biaxial_training.model import BiaxialLSTM
from tests.tiny_models import export, fit
from tests.daw import FakeDaw, start_engine, stop_engine
from tests.fakes import hanging_notes

pytestmark = pytest.mark.jack


def roots_batch(rng, batch=8, steps=33):
    """Chords of 4..12 16ths (some steps without one); the model's part is each chord's root between C4 and B4,
    struck as the chord starts and held; silent where no chord is given.
    -> states, human (B, T, 78, 2), steps (B, T), meter (B, T, 2), chord (B, T, 3, 12)."""
    states = np.zeros((batch, steps, N_NOTES, 2), np.float32)
    chord = np.zeros((batch, steps, 3, 12), np.float32)
    for b in range(batch):
        t = 0
        while t < steps:
            length = int(rng.integers(4, 13))
            if rng.random() < 0.8:
                c = Chord(int(rng.integers(12)), int(rng.integers(len(QUALITIES))), 0)
                c = Chord(c.root, c.quality, c.root)
                chord[b, t : t + length] = c.as_input()
                n = 60 + c.root - LOW_NOTE
                states[b, t : t + length, n, 0] = 1
                states[b, t, n, 1] = 1
            t += length
    positions = np.tile(np.arange(-1, steps - 1) % 16, (batch, 1))
    meter = np.tile(np.array([16, 4]), (batch, steps, 1))
    human = np.zeros_like(states)
    return [torch.from_numpy(x) for x in (states, human, positions, meter, chord)]


@pytest.fixture(scope="module")
def roots_model(tmp_path_factory):
    torch.manual_seed(0)
    model = BiaxialLSTM(ModelConfig(time_sizes=(16,), pitch_sizes=(12,), dropout=0.0, listens=True, chords=True))
    loss = fit(model, roots_batch)
    assert loss < 0.5, loss  # it learned the rule, before any MIDI is involved
    return export(model, tmp_path_factory.mktemp("roots"), "roots.onnx", step=300)


def played_roots(daw, since: float = 0.0) -> list[int]:
    """The pitch classes it struck (after ``since``), each run of the same one once."""
    pcs = [m.note % 12 for _, m in daw.note_ons(since)]
    return [n for k, n in enumerate(pcs) if k == 0 or n != pcs[k - 1]]


@pytest.mark.parametrize("meter, chart, roots", [
    ("4/4", "Dm | G7 | Cmaj7 | A7", [2, 7, 0, 9]),
    ("3/4", "F | Bb C7", [5, 10, 0]),  # two chords in a bar of 3/4 share it: a beat and a half each
])
def test_play_follows_a_chart_across_bar_lines(jack, roots_model, meter, chart, roots):
    daw = FakeDaw(jack, f"chart{meter[0]}")
    eng = start_engine(["--port", daw.in_name, "--bpm", "240", "--anti-silence", "0", "--temperature", "0.1",
                        "--harmony", "0", "--meter", meter, "--chords", chart], roots_model)
    try:
        time.sleep(5.5)  # about 5 bars of 4/4 at 240 BPM
    finally:
        stop_engine(eng)
        daw.close()
    played = played_roots(daw)
    assert len(played) >= len(roots) + 1, played
    start = played.index(roots[0])  # the first 16th may come before the chart's first chord reaches it
    cycle = roots * 4
    assert played[start : start + len(roots) + 1] == cycle[: len(roots) + 1], played
    assert not hanging_notes([m for _, m in daw.received])


def test_a_chord_track_on_its_own_channel_is_followed_and_is_not_the_players_part(jack, roots_model):
    daw = FakeDaw(jack, "track")
    eng = start_engine(["--port", daw.in_name, "--input", daw.clock_name, "--chord-channel", "2", "--bpm", "120",
                        "--anti-silence", "0", "--temperature", "0.1", "--harmony", "0"], roots_model)
    try:
        time.sleep(0.4)
        first = time.perf_counter()
        for chord in ((57, 60), (53, 57), (55, 59)):  # A-C (Am), F-A (F), G-B (G): two notes a chord, channel 2
            for note in chord:
                daw.send("note_on", note=note, velocity=90, channel=1)
            daw.send("note_on", note=76, velocity=90)  # the player's E5, on channel 1, with every chord
            time.sleep(0.9)
            for note in chord:
                daw.send("note_off", note=note, channel=1)
            daw.send("note_off", note=76)
    finally:
        stop_engine(eng)
        daw.close()
    played = played_roots(daw, first)
    assert [n for n in played if n in (9, 5, 7)] == [9, 5, 7], played  # as the player's notes, 2 are no chord
    assert not hanging_notes([m for _, m in daw.received])
