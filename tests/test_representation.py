import mido
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from live_biaxial.errors import BadMidiFile, LiveBiaxialError
from live_biaxial.music.meter import grid, meter_steps, parse_meter
from live_biaxial.music.representation import (
    LOW_NOTE, N_NOTES, matrix_to_midi, midi_to_matrix, normalize, pitches_to_matrix, voices_to_matrix,
)
from tests.midi_helpers import midi_file, off, on

Q = 480  # ticks per beat; a 16th is 120 ticks


def roundtrip(matrix, **kw):
    midi = matrix_to_midi(matrix, **kw)
    back, _ = midi_to_matrix(midi, steps_per_beat=kw.get("steps_per_beat", 4))
    return back


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.just(N_NOTES), st.just(2)), elements=st.integers(0, 1)))
def test_matrix_midi_matrix_is_identity(raw):
    m = normalize(raw)
    if not m[..., 0].any():
        return  # a silent matrix has no notes to write
    back = roundtrip(m)
    last = np.flatnonzero(m[..., 0].any(axis=1))[-1] + 1  # MIDI ends with the last sounding step
    np.testing.assert_array_equal(back[:last], m[:last])


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 8), st.integers(40, 200))
def test_roundtrip_other_grids_and_tempi(spb, bpm):
    m = np.zeros((12, N_NOTES, 2), np.uint8)
    m[0:5, 30] = [1, 0]
    m[0, 30, 1] = 1
    m[3:12, 50, 0] = 1
    m[[3, 7], 50, 1] = 1
    np.testing.assert_array_equal(roundtrip(m, steps_per_beat=spb, bpm=bpm), m)


def test_reads_type0_and_type1_with_several_tracks():
    ev_a = [(0, on(60)), (Q, off(60))]
    ev_b = [(0, on(64, ch=1)), (2 * Q, off(64, ch=1))]
    m1, _ = midi_to_matrix(midi_file(None, tracks=[ev_a, ev_b]))
    m0, _ = midi_to_matrix(midi_file(ev_a + ev_b, type=0))
    np.testing.assert_array_equal(m0, m1)
    assert m1.shape[0] == 8
    assert m1[:4, 60 - LOW_NOTE, 0].all() and not m1[4:, 60 - LOW_NOTE, 0].any()
    assert m1[:8, 64 - LOW_NOTE, 0].all()
    assert m1[0, 60 - LOW_NOTE, 1] == 1 and m1[1:, 60 - LOW_NOTE, 1].sum() == 0


def test_velocity_zero_note_on_is_note_off():
    m, _ = midi_to_matrix(midi_file([(0, on(60)), (Q, off(60, zero_velocity=True)), (2 * Q, on(62)), (3 * Q, off(62))]))
    assert m[:4, 60 - LOW_NOTE, 0].all() and not m[4:, 60 - LOW_NOTE, 0].any()


def test_overlapping_notes_of_one_pitch_rearticulate_and_hold_to_the_last_off():
    # second C4 struck while the first still sounds; the first's off must not cut the second
    m, _ = midi_to_matrix(midi_file([(0, on(60)), (Q, on(60)), (2 * Q, off(60)), (3 * Q, off(60))]))
    n = 60 - LOW_NOTE
    assert m[:12, n, 0].all()
    assert list(np.flatnonzero(m[:, n, 1])) == [0, 4]


def test_drums_left_out_by_default_and_kept_on_request():
    events = [(0, on(36, ch=9)), (Q, off(36, ch=9)), (0, on(60)), (Q, off(60))]
    m, rep = midi_to_matrix(midi_file(events))
    assert rep.dropped_drums == 1 and m[:, 36 - LOW_NOTE, 0].sum() == 0
    m, rep = midi_to_matrix(midi_file(events), include_drums=True)
    assert rep.dropped_drums == 0 and m[:, 36 - LOW_NOTE, 0].sum() == 4


def test_notes_outside_the_window_are_dropped_and_counted():
    events = [(0, on(10)), (Q, off(10)), (0, on(120)), (Q, off(120)), (0, on(24)), (Q, off(24)), (0, on(101)), (Q, off(101))]
    m, rep = midi_to_matrix(midi_file(events))
    assert rep.dropped_out_of_window == 2 and rep.notes == 2
    assert m[0, 0, 0] == 1 and m[0, N_NOTES - 1, 0] == 1


def test_a_piece_that_changes_to_three_four_is_read_whole_and_its_bars_follow_the_change(tmp_path):
    ts = lambda n, d=4: mido.MetaMessage("time_signature", numerator=n, denominator=d)  # noqa: E731
    events = [(0, ts(4)), (0, on(60)), (8 * Q, off(60)), (8 * Q, ts(3)), (14 * Q, on(62)), (15 * Q, off(62))]
    m, rep = midi_to_matrix(midi_file(events))
    assert rep.cut_reason == "" and m[:, 62 - LOW_NOTE, 0].sum() == 4
    assert rep.meters == [(0, 16, 4), (32, 12, 4)]  # 4/4, then 3/4 from bar 3 (step 32)
    position, meter = grid(rep.meters, m.shape[0])
    assert position[31] == 15 and position[32] == 0 and position[44] == 0  # bars of 12 16ths from the change
    assert (meter[32:] == (12, 4)).all() and (meter[:32] == (16, 4)).all()


def test_six_eight_beats_in_dotted_quarters(tmp_path):
    path = tmp_path / "jig.mid"
    midi = mido.MidiFile(ticks_per_beat=Q)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=6, denominator=8, time=0)])
    for k in range(8):  # eight dotted quarters: four bars of 6/8
        track += [mido.Message("note_on", note=60 + k, velocity=80, time=0),
                  mido.Message("note_off", note=60 + k, time=3 * Q // 2)]
    midi.tracks.append(track)
    midi.save(path)
    m, rep = midi_to_matrix(path)
    assert rep.meters == [(0, 12, 6)] and m.shape[0] == 48
    position, _ = grid(rep.meters, m.shape[0])
    assert list(np.flatnonzero(position == 0)) == [0, 12, 24, 36]


def test_meters_as_the_model_counts_them():
    assert [meter_steps(*ts) for ts in [(2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (12, 8), (3, 8), (2, 2)]] == [
        (8, 4), (12, 4), (16, 4), (12, 6), (18, 6), (24, 6), (6, 2), (16, 8)]
    assert meter_steps(5, 16, steps_per_beat=1) is None  # not on a grid of quarter notes
    assert parse_meter("6/8") == (12, 6)
    for bad in ("6", "x/4", "3/5", "0/4"):
        with pytest.raises(LiveBiaxialError, match="--meter"):
            parse_meter(bad)


def test_a_meter_off_the_grid_ends_the_piece_and_is_reported():
    ts = mido.MetaMessage("time_signature", numerator=5, denominator=16)
    events = [(0, on(60)), (8 * Q, off(60)), (8 * Q, ts), (8 * Q, on(62)), (9 * Q, off(62))]
    m, rep = midi_to_matrix(midi_file(events), steps_per_beat=1)
    assert m.shape[0] == 8 and rep.cut_at_step == 8 and "5/16" in rep.cut_reason
    with pytest.raises(BadMidiFile, match="5/16"):
        midi_to_matrix(midi_file([(0, ts), (0, on(60)), (Q, off(60))]), steps_per_beat=1)


def test_writer_uses_tempo_channel_and_velocity():
    m = normalize(np.zeros((4, N_NOTES, 2)) + (np.arange(N_NOTES) == 36)[None, :, None])
    midi = matrix_to_midi(m, bpm=90, channel=5, velocity=100)
    msgs = list(midi.tracks[0])
    tempo = [x for x in msgs if x.type == "set_tempo"][0].tempo
    assert round(mido.tempo2bpm(tempo)) == 90
    ons = [x for x in msgs if x.type == "note_on"]
    assert ons and all(x.channel == 5 and x.velocity == 100 for x in ons)


def test_jsb_steps_and_voices():
    m = pitches_to_matrix([[60, 64], [60, 64], [60, 65]])
    assert m[:, 60 - LOW_NOTE, 1].tolist() == [1, 0, 0]  # held: no re-articulation
    v = voices_to_matrix([[60, 64], [60, 64], [60, -1], [60, 64]])
    assert v[:, 64 - LOW_NOTE, 1].tolist() == [1, 0, 0, 1]  # re-enters after the rest


def test_the_piano_roll_spans_the_notes_played_and_has_a_legend():
    pytest.importorskip("matplotlib")
    from live_biaxial.plot import note_range, piano_roll_figure

    notes = pitches_to_matrix([[60, 64, 67]] * 8 + [[62, 65, 69, 74]] * 8)  # C4..D5
    low, high = note_range(notes)
    assert low <= 60 and high >= 74 and high - low <= 18  # not the whole window, MIDI 24..101
    fig = piano_roll_figure(notes)
    ax = fig.axes[0]
    assert ax.get_ylim() == (low - 0.5, high + 0.5)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("struck" in t for t in labels) and any("held" in t for t in labels)
    assert note_range(np.zeros((4, 78, 2), np.uint8)) == (60, 72)  # silence: one octave to look at
