"""Starting in a key: parsing what musicians write, the seed chord and the cadence the model hears."""

import numpy as np
import pytest

from live_biaxial.steering.controls import SCALES, Controls, parse_key
from live_biaxial.errors import LiveBiaxialError
from live_biaxial.steering.generation import SEED_CHORD, key_prime, seed_step
from live_biaxial.music.representation import LOW_NOTE


@pytest.mark.parametrize("text, key", [
    ("D minor", (2, "minor")), ("Dm", (2, "minor")), ("F# major", (6, "major")), ("Bb", (10, "major")),
    ("eb dorian", (3, "dorian")), (" a pentatonic ", (9, "pentatonic")), ("b", (11, "major")), ("Cb", (11, "major")),
    ("bbm", (10, "minor")), ("E# min", (5, "minor")), ("G maj", (7, "major")),
    ("A harmonic minor", (9, "harmonic minor")), ("g  Harmonic ", (7, "harmonic minor")),
])
def test_keys_as_musicians_write_them(text, key):
    assert parse_key(text) == key


@pytest.mark.parametrize("text", ["H minor", "D lydian", "", "Dmm", "C chromatic", "minor", "C#b", "A minor harmonic"])
def test_a_key_it_cannot_read_is_one_line_naming_the_scales(text):
    with pytest.raises(LiveBiaxialError) as err:
        parse_key(text)
    message = str(err.value)
    assert "\n" not in message and repr(text) in message
    assert all(name in message for name in SCALES if name != "chromatic")


def pitches(step):
    return sorted(int(k) + LOW_NOTE for k in np.flatnonzero(step[:, 0]))


def test_seed_chord_moves_with_the_key_and_stays_mid_range():
    assert pitches(seed_step()) == list(SEED_CHORD)
    assert pitches(seed_step(2, minor=True)) == [50, 57, 65, 74]  # D A F D
    for root in range(12):
        for minor in (False, True):
            p = pitches(seed_step(root, minor))
            assert {x % 12 for x in p} == {root, (root + 7) % 12, (root + 4 - minor) % 12}
            assert abs(p[0] - SEED_CHORD[0]) <= 6


@pytest.mark.parametrize("root, minor", [(0, False), (2, True), (6, False), (9, True)])
def test_the_cadence_is_one_bar_of_i_iv_v_i_in_the_key(root, minor):
    prime = key_prime(root, minor)  # (16, 78, 2)
    assert prime.shape == (16, 78, 2)
    chords = [{p % 12 for p in pitches(prime[i])} for i in range(0, 16, 4)]
    third, sixth = (3, 8) if minor else (4, 9)
    assert chords[0] == chords[3] == {root, (root + third) % 12, (root + 7) % 12}  # I
    assert chords[1] == {(root + 5) % 12, (root + sixth) % 12, root}  # IV
    assert chords[2] == {(root + 7) % 12, (root + 11) % 12, (root + 2) % 12}  # V, with its leading tone
    struck = prime[:, :, 1].sum(1)
    assert list(np.flatnonzero(struck)) == [0, 4, 8, 12]  # each chord struck once, then held
    assert np.array_equal(prime[-1, :, 0], seed_step(root, minor)[:, 0])  # it ends holding the key's seed chord


@pytest.mark.parametrize("scale, extra", [("minor", 0), ("harmonic minor", 1)])
def test_a_locked_key_keeps_every_note_in_its_scale(scale, extra):
    bias = Controls(key_root=2, scale=scale).play_bias  # (78,)
    allowed = {(k + LOW_NOTE) % 12 for k in np.flatnonzero(np.isfinite(bias))}
    assert allowed == {(2 + i) % 12 for i in SCALES[scale]}
    assert (1 in allowed) == bool(extra) and (0 in allowed) != bool(extra)  # D minor: C, or the leading tone C#
