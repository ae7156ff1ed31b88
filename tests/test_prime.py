"""Going on from a part: a one-voice prime (a melody, a bass line, a waltz) is music given, not silence, so the
model plays after it; the anti-silence rule never drives the step graph out of its range."""

import mido
import pytest

from live_biaxial.steering.generation import AntiSilence
from tests.conftest import run_cli


def one_voice(path, pitches, beats_each=1, numerator=4):
    """A one-track MIDI file at 480 ticks a beat, as a DAW or a script writes one."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=numerator, denominator=4)])
    for p in pitches:
        track.append(mido.Message("note_on", note=p, velocity=80, time=0))
        track.append(mido.Message("note_off", note=p, velocity=0, time=480 * beats_each))
    midi.tracks.append(track)
    midi.save(path)
    return path


def test_anti_silence_stops_short_of_zero():
    rule = AntiSilence(1.0)
    for _ in range(200):  # 200 silent 16ths: the original's c would be -3
        rule.update(0)
    assert rule.c == pytest.approx(AntiSilence.MIN_C)
    rule.update(4)
    assert rule.c > AntiSilence.MIN_C


@pytest.mark.parametrize("name, pitches, beats, numerator", [
    ("melody", [60, 62, 64, 65, 67, 65, 64, 62] * 4, 1, 4),
    ("bass", [36, 43, 41, 43] * 8, 1, 4),
    ("waltz", [55, 59, 62] * 12, 1, 3),
])
def test_the_model_plays_after_a_one_voice_prime(name, pitches, beats, numerator, tmp_path):
    prime = one_voice(tmp_path / f"{name}.mid", pitches, beats, numerator)
    for seed in (0, 1):
        out = tmp_path / f"{name}-{seed}.mid"
        r = run_cli("generate", "--prime", prime, "--bars", "4", "--seed", str(seed), "--out", out)
        assert r.returncode == 0, r.stderr
        silent = int(r.stdout.split(" silent 16ths")[0].split()[-1])
        assert silent < 24, r.stdout  # it plays in most of the 48 (3/4) or 64 16ths after the prime, not none
