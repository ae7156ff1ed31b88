"""A tiny model that listens, trained to play the major third above the player's note, through `play --input`
on real JACK ports: it answers the player's notes, in the 16th they are struck, and never sends them back."""

import time

import numpy as np
import pytest
import torch

from live_biaxial.music.representation import LOW_NOTE, N_NOTES
from live_biaxial_training.config import ModelConfig
from live_biaxial_training.model import BiaxialLSTM
from tests.tiny_models import export, fit
from tests.daw import FakeDaw, start_engine, stop_engine
from tests.fakes import hanging_notes

pytestmark = pytest.mark.jack


def thirds_batch(rng, batch=8, steps=33):
    """The player holds random notes (4..8 16ths each, struck on entry); the model's part is each a major
    third higher, struck and held with it. -> states, human (B, T, 78, 2), steps (B, T), meter (B, T, 2)."""
    states = np.zeros((batch, steps, N_NOTES, 2), np.float32)
    human = np.zeros_like(states)
    for b in range(batch):
        t = int(rng.integers(0, 4))
        while t < steps:
            n, length = int(rng.integers(55, 73)) - LOW_NOTE, int(rng.integers(4, 9))
            human[b, t : t + length, n, 0] = 1
            human[b, t, n, 1] = 1
            states[b, t : t + length, n + 4, 0] = 1
            states[b, t, n + 4, 1] = 1
            t += length + int(rng.integers(0, 3))  # sometimes a rest between
    positions = np.tile(np.arange(-1, steps - 1) % 16, (batch, 1))
    meter = np.tile(np.array([16, 4]), (batch, steps, 1))
    return [torch.from_numpy(x) for x in (states, human, positions, meter)]


@pytest.fixture(scope="module")
def thirds_model(tmp_path_factory):
    torch.manual_seed(0)
    model = BiaxialLSTM(ModelConfig(time_sizes=(16,), pitch_sizes=(12,), dropout=0.0, listens=True))
    loss = fit(model, thirds_batch)
    assert loss < 0.5, loss  # it learned the rule, before any MIDI is involved
    return export(model, tmp_path_factory.mktemp("thirds"), "thirds.onnx", step=300)


def test_a_listening_model_plays_the_third_above_what_the_player_holds(quiet_machine, jack, thirds_model):
    daw = FakeDaw(jack, "thirds")
    eng = start_engine(["--port", daw.in_name, "--input", daw.clock_name, "--bpm", "120", "--anti-silence", "0",
                        "--temperature", "0.1"], thirds_model)
    struck = {}
    try:
        time.sleep(0.5)
        for note in (60, 67, 62, 57):
            struck[note] = time.perf_counter()
            daw.send("note_on", note=note, velocity=100)
            time.sleep(0.6)  # about five 16ths at 120 BPM
            daw.send("note_off", note=note)
            time.sleep(0.25)
    finally:
        stop_engine(eng)
        daw.close()
    ons = daw.note_ons(since=struck[60])  # what it plays before the player plays (its seed's echo) is not an answer
    played = [m.note for _, m in ons]
    assert played, "the model played nothing"
    for note, t in struck.items():
        answers = [at for at, m in ons if m.note == note + 4 and at >= t]
        assert answers, (note, played)
        assert answers[0] - t < 0.125 + 0.03, (note, answers[0] - t)  # within the 16th after it was struck
    assert not {60, 67, 62, 57} & set(played)  # the player's own notes never come back
    assert sum(n in (64, 71, 66, 61) for n in played) >= 0.9 * len(played), played
    assert not hanging_notes([m for _, m in daw.received])
