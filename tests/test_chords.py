"""Chord symbols, charts, the recogniser, chord tracks in MIDI files and the harmony follower's order."""

import mido
import numpy as np
import pytest

from live_biaxial.music.chords import (QUALITIES, Chord, ChordChart, ChordError, beat_labels, chord_inputs,
                                       chord_track, held_chord, parse_chord, read_chord_track, recognise, step_labels)
from live_biaxial.steering.harmony import HarmonyFollower, harmony_bias, track_chord
from live_biaxial.music.representation import LOW_NOTE, N_NOTES


@pytest.mark.parametrize("symbol, name, pcs", [
    ("Am", "Am", {9, 0, 4}), ("F", "F", {5, 9, 0}), ("E7", "E7", {4, 8, 11, 2}), ("Cmaj7", "Cmaj7", {0, 4, 7, 11}),
    ("Dm7", "Dm7", {2, 5, 9, 0}), ("Bm7b5", "Bm7b5", {11, 2, 5, 9}), ("Bdim7", "Bdim7", {11, 2, 5, 8}),
    ("Gsus4", "Gsus4", {7, 0, 2}), ("Dsus2", "Dsus2", {2, 4, 9}), ("C6", "C6", {0, 4, 7, 9}),
    ("Am6", "Am6", {9, 0, 4, 6}), ("Bdim", "Bdim", {11, 2, 5}), ("Caug", "Caug", {0, 4, 8}),
    ("G7/B", "G7/B", {7, 11, 2, 5}), ("C/E", "C/E", {0, 4, 7}), ("F/G", "F/G", {5, 9, 0, 7}),
    ("Bb", "Bb", {10, 2, 5}), ("F#m", "F#m", {6, 9, 1}), ("Ebmaj7", "Ebmaj7", {3, 7, 10, 2}),
    ("C-7", "Cm7", {0, 3, 7, 10}), ("Cø", "Cm7b5", {0, 3, 6, 10}), ("Cmin", "Cm", {0, 3, 7}),
])
def test_chord_symbols(symbol, name, pcs):
    chord = parse_chord(symbol)
    assert chord.name == name
    assert chord.pitch_classes == frozenset(pcs)
    assert parse_chord(chord.name) == chord  # a name reads back as the same chord


@pytest.mark.parametrize("symbol, word", [("H7", "not a chord symbol"), ("Cfoo", "unknown chord quality 'foo'"),
                                          ("C9", "unknown chord quality '9'"), ("", "not a chord symbol"),
                                          ("Am/X", "slash bass 'X' is not a note")])
def test_bad_chord_symbols_name_the_symbol(symbol, word):
    with pytest.raises(ChordError) as err:
        parse_chord(symbol)
    assert repr(symbol) in str(err.value) and word in str(err.value)
    assert "\n" not in str(err.value)


def test_no_chord():
    assert parse_chord("N.C.") is None and parse_chord("nc") is None


def test_a_chart_shares_each_bar_evenly_and_repeats():
    chart = ChordChart.parse("Am | F | C G | E7")
    names = [chart.chord_at(bar, pos, 16).name for bar in range(5) for pos in (0, 7, 8, 15)]
    assert names == ["Am"] * 4 + ["F"] * 4 + ["C", "C", "G", "G"] + ["E7"] * 4 + ["Am"] * 4
    # in 3/4 (12 16ths a bar) three chords get a beat each
    waltz = ChordChart.parse("C F G7")
    assert [waltz.chord_at(0, p, 12).name for p in (0, 3, 4, 8, 11)] == ["C", "C", "F", "G7", "G7"]
    # 6/8 (12 16ths): two chords split it at the dotted quarter
    assert [ChordChart.parse("Am E").chord_at(3, p, 12).name for p in (5, 6)] == ["Am", "E"]


def test_chart_repeat_sign_outer_bar_lines_and_no_chord():
    chart = ChordChart.parse("| C | % | N.C. |")
    assert len(chart.bars) == 3
    assert chart.chord_at(1, 0, 16).name == "C" and chart.chord_at(2, 0, 16) is None


@pytest.mark.parametrize("text, word", [("C | | F", "bar 2 is empty"), ("% | C", "starts with it"),
                                        ("Am | Xb", "'Xb'"), ("", "no chords")])
def test_bad_charts_are_one_line(text, word):
    with pytest.raises(ChordError) as err:
        ChordChart.parse(text)
    assert word in str(err.value) and "\n" not in str(err.value)


def _weights(*pcs_16ths):
    w = np.zeros(12, np.float32)
    for pc, n in pcs_16ths:
        w[pc] += n
    return w


def test_recogniser_cuts_passing_tones_and_ties_as_documented():
    assert recognise(_weights((0, 4), (4, 4), (7, 4)), 4, 0).name == "C"
    # a passing 8th (D) in a C major beat stays a passing tone; a 16th A does not make it C6
    assert recognise(_weights((0, 4), (4, 4), (7, 4), (2, 2)), 4, 0).name == "C"
    assert recognise(_weights((0, 4), (4, 4), (7, 4), (9, 1)), 4, 0).name == "C"
    # a seventh sounding the whole beat makes a seventh chord
    assert recognise(_weights((7, 4), (11, 4), (2, 4), (5, 4)), 4, 7).name == "G7"
    # C E G A: C6 and Am7 have the same tones; the root in the bass decides
    assert recognise(_weights((0, 4), (4, 4), (7, 4), (9, 4)), 4, 9).name == "Am7"
    assert recognise(_weights((0, 4), (4, 4), (7, 4), (9, 4)), 4, 0).name == "C6"
    # a third without a fifth: the bass decides between C and Am
    assert recognise(_weights((0, 4), (4, 4)), 4, 0).name == "C"
    # a first inversion keeps its root and names its bass
    assert recognise(_weights((0, 4), (4, 4), (7, 4)), 4, 4).name == "C/E"
    # one pitch class is not a harmony
    assert recognise(_weights((0, 4)), 4, 0) is None


def test_held_chords_need_three_pitch_classes_all_in_one_chord():
    assert held_chord([48, 52, 55]).name == "C"
    assert held_chord([52, 55, 60]).name == "C/E"
    assert held_chord([45, 60, 64, 67]).name == "Am7"
    assert held_chord([43, 59, 62, 65]).name == "G7"
    assert held_chord([60, 64]) is None  # an interval
    assert held_chord([60, 61, 62]) is None  # a cluster is no chord of the vocabulary
    assert held_chord([60, 64, 67, 69, 71]) is None  # nor five pitch classes


def test_beat_labels_of_a_written_progression():
    """Four voices, one chord a beat (C, F/A, G7, C) with a passing 16th: the labels read them back."""
    chords = [(48, 64, 67, 72), (45, 65, 69, 72), (43, 65, 71, 74), (48, 64, 67, 72)]
    m = np.zeros((16, N_NOTES, 2), np.float32)
    for beat, pitches in enumerate(chords):
        for p in pitches:
            m[4 * beat : 4 * beat + 4, p - LOW_NOTE, 0] = 1
    m[5, 67 - LOW_NOTE, 0] = 1  # a passing G in the F beat
    labels, bass = step_labels(m, np.arange(16) % 16, np.tile([16, 4], (16, 1)), LOW_NOTE)
    names = [Chord.from_index(labels[t], bass[t]).name for t in (0, 4, 8, 12)]
    assert names == ["C", "F/A", "G7", "C"]
    assert (labels[:4] == labels[0]).all()  # every step of a beat carries its beat's chord
    silent = beat_labels(np.zeros((4, N_NOTES, 2)), np.array([0]), LOW_NOTE)[0]
    assert silent.tolist() == [-1]


def test_chord_inputs_move_with_transposition():
    g7 = parse_chord("G7/B")
    x = chord_inputs(np.array([g7.index, -1]), np.array([g7.bass, -1]), shift=2)  # to A7/C#
    a7 = parse_chord("A7/C#").as_input()
    assert np.array_equal(x[0], a7)
    assert not x[1].any()


def test_chord_track_round_trip(tmp_path):
    followed = [parse_chord("Am")] * 16 + [None] * 8 + [parse_chord("G7/B")] * 8
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(chord_track(followed, 4, 480))
    path = tmp_path / "chords.mid"
    midi.save(path)
    timeline = read_chord_track(path)
    back = [timeline.chord_at(0, s, 32) for s in range(32)]
    assert back == followed


def test_a_file_without_chord_symbols_is_one_line(tmp_path):
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("marker", text="Verse")]))
    midi.save(tmp_path / "x.mid")
    with pytest.raises(ChordError, match="no chord symbols"):
        read_chord_track(tmp_path / "x.mid")


def test_the_follower_takes_the_first_source_that_has_a_chord():
    chart = HarmonyFollower(ChordChart.parse("Dm | G7"), plans=True)
    chart.choose(1, 0, 16, track=[48, 52, 55], player=[57, 60, 64])
    assert (chart.chord.name, chart.source) == ("G7", "chart")
    assert np.array_equal(chart.input, parse_chord("G7").as_input())
    assert chart.upcoming(1, 0, 16).name == "Dm"

    f = HarmonyFollower(plans=True)
    f.choose(0, 0, 16, track=[48, 52, 55], player=[57, 60, 64])
    assert (f.chord.name, f.source) == ("C", "track")
    f.choose(0, 1, 16, track=[], player=[57, 60, 64])  # the track's chord holds until it plays another
    assert (f.chord.name, f.source) == ("C", "track")
    g = HarmonyFollower(plans=True)
    g.choose(0, 0, 16, track=None, player=[57, 60, 64])
    assert (g.chord.name, g.source) == ("Am", "player")
    g.choose(0, 1, 16, track=None, player=[60])  # a melody note is no chord: nothing planned yet
    assert g.chord is None and not g.input.any()
    logits = np.full(156, -50.0, np.float32)
    logits[parse_chord("Fmaj7").index] = 50.0
    g.after_step(logits, 2, 4)  # not the last 16th of a beat: no draw
    assert g.planned is None
    g.after_step(logits, 3, 4)
    g.choose(0, 4, 16, track=None, player=[60])
    assert (g.chord.name, g.source) == ("Fmaj7", "plan")


def test_track_chords_accept_two_pitch_classes():
    assert track_chord([45, 60]).name == "Am"
    assert track_chord([60]) is None


def test_harmony_bias_closes_notes_off_the_chord_except_passing_ones():
    chord = parse_chord("C").as_input()
    previous = np.zeros((N_NOTES, 2), np.float32)
    previous[62 - LOW_NOTE, 0] = 1  # the model sounded D4 before
    base = np.zeros(N_NOTES, np.float32)
    out = np.zeros(N_NOTES, np.float32)
    previous[64 - LOW_NOTE, 0] = 1  # and E4, a tone of the chord
    harmony_bias(base, chord, previous, 1.0, False, out)
    pc = (np.arange(N_NOTES) + LOW_NOTE) % 12
    assert all(out[p - LOW_NOTE] == 0 for p in (60, 64))  # chord tones a step or less from what sounded: open
    assert np.all(out[np.isin(pc, (0, 4, 7))] > -np.inf)  # the others only held back (leaps: the next test)
    # off the beat: a step from E4 passes (D4, D#4, F4, F#4); a step from D4 (not a chord tone) does not
    assert all(out[p - LOW_NOTE] == 0 for p in (62, 63, 65, 66))
    assert np.isinf(out[61 - LOW_NOTE]) and np.isinf(out[50 - LOW_NOTE])  # C#4, and a D far from the E4
    harmony_bias(base, chord, previous, 1.0, True, out)  # on the beat: only chord tones
    assert np.isinf(out[65 - LOW_NOTE]) and out[64 - LOW_NOTE] == 0
    harmony_bias(base, chord, previous, 0.5, True, out)
    assert out[65 - LOW_NOTE] == pytest.approx(4 * np.log(0.5))
    player = np.zeros(N_NOTES, bool)
    player[60 - LOW_NOTE] = True  # the player holds C4: left to the player, its octaves open
    harmony_bias(base, chord, previous, 1.0, True, out, player)
    assert np.isinf(out[60 - LOW_NOTE]) and out[72 - LOW_NOTE] > -np.inf  # C5: open, only held back as a leap
    assert np.array_equal(harmony_bias(base, chord, previous, 0.0, True, out), base)
    assert np.array_equal(harmony_bias(base, np.zeros((3, 12), np.float32), previous, 1.0, True, out), base)


def test_harmony_holds_back_chord_tones_that_leap_and_never_closes_them():
    from live_biaxial.steering.harmony import LEAP_HOLD_MAX, LEAP_SHARE, SHARPNESS

    chord = parse_chord("C").as_input()
    base = np.zeros(N_NOTES, np.float32)
    out = np.zeros(N_NOTES, np.float32)
    previous = np.zeros((N_NOTES, 2), np.float32)
    harmony_bias(base, chord, previous, 0.5, True, out)
    assert out[67 - LOW_NOTE] == 0 and out[48 - LOW_NOTE] == 0  # nothing sounded before: nothing leaps
    previous[64 - LOW_NOTE, 0] = 1  # E4 sounded
    harmony_bias(base, chord, previous, 0.5, True, out)
    assert out[64 - LOW_NOTE] == 0 and out[62 - LOW_NOTE] < 0  # held; D4 a step but off the chord on the beat
    assert out[67 - LOW_NOTE] < 0 and out[67 - LOW_NOTE] == pytest.approx(SHARPNESS * LEAP_SHARE * np.log(0.5))  # G4 leaps
    assert out[72 - LOW_NOTE] == pytest.approx(SHARPNESS * LEAP_SHARE * np.log(0.5))  # C5 leaps too
    harmony_bias(base, chord, previous, 1.0, True, out)
    assert out[67 - LOW_NOTE] == pytest.approx(SHARPNESS * LEAP_SHARE * np.log1p(-LEAP_HOLD_MAX))  # not closed


def test_every_quality_has_a_name_that_parses():
    for k, (suffix, _) in enumerate(QUALITIES):
        assert parse_chord("D" + suffix).quality == k
