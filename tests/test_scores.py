"""music21 scores read with their parts apart: voices, bars and meters from the score, tunes held out as the
JSB split holds them out."""

import json

import numpy as np
import pytest

pytest.importorskip("music21")

from live_biaxial.music.representation import ARTIC, LOW_NOTE, PLAY  # noqa: E402
from live_biaxial_training.data import load_data  # noqa: E402
from live_biaxial_training.scores import TUNE_INTERVALS, read_score, tune_key  # noqa: E402


def _quartet_in_three(path):
    """Four parts in 3/4 with a one-beat pickup; the top part ties a note over the bar line, the bottom one
    plays a double stop."""
    from music21 import chord, meter, note, stream, tie

    score = stream.Score()
    for top in (72, 67, 64, 48):
        part = stream.Part()
        pickup = stream.Measure(number=0)
        pickup.timeSignature = meter.TimeSignature("3/4")
        pickup.append(note.Note(top, quarterLength=1))
        pickup.paddingLeft = 2.0
        bar1, bar2 = stream.Measure(number=1), stream.Measure(number=2)
        if top == 72:
            tied = note.Note(74, quarterLength=3)
            tied.tie = tie.Tie("start")
            bar1.append(tied)
            held = note.Note(74, quarterLength=1)
            held.tie = tie.Tie("stop")
            bar2.append([held, note.Note(76, quarterLength=2)])
        elif top == 48:
            bar1.append(chord.Chord([43, 50], quarterLength=3))
            bar2.append(note.Note(36, quarterLength=3))
        else:
            bar1.append(note.Note(top, quarterLength=3))
            bar2.append(note.Note(top, quarterLength=3))
        part.append([pickup, bar1, bar2])
        score.insert(0, part)
    score.write("musicxml", fp=str(path))
    return path


def test_a_score_keeps_its_voices_its_pickup_and_its_meter(tmp_path):
    v = read_score(_quartet_in_three(tmp_path / "q.musicxml"), steps_per_beat=4)
    voices, matrix = v["voices"], v["matrix"]
    assert voices.shape == (4 + 12 + 12, 4)
    assert (v["meter"] == (12, 4)).all()
    # the pickup is the bar's last beat: positions 8..11, then the bar line
    assert list(v["position"][:6]) == [8, 9, 10, 11, 0, 1] and v["position"][16] == 0
    assert list(voices[0]) == [72, 67, 64, 48]
    assert (voices[4:20, 0] == 74).all() and (voices[20:, 0] == 76).all()
    assert (voices[4:16, 3] == 50).all()  # a double stop's top note is the voice
    tied = 74 - LOW_NOTE
    assert matrix[4:20, tied, PLAY].all() and matrix[4:20, tied, ARTIC].sum() == 1  # the tie joins the note
    assert matrix[4:16, 43 - LOW_NOTE, PLAY].all()  # the double stop's lower note sounds in the matrix


def test_a_tune_is_named_by_its_opening_intervals():
    line = np.array([60, 60, -1, 62, 62, 64, 60, 67] + [60 + (i % 5) for i in range(TUNE_INTERVALS * 2)])
    voices = np.stack([line, line - 12], 1)
    key = tune_key(voices)
    assert key is not None and len(key) == TUNE_INTERVALS
    assert key[:4] == (2, 2, -4, 7)  # a repeat and a rest leave no interval
    assert tune_key(np.where(voices >= 0, voices + 5, -1)) == key  # another key, the same tune
    assert tune_key(voices[:4]) is None


def test_a_chorale_the_standard_split_holds_out_is_held_out_from_the_corpus_too(tmp_path):
    """A Bach chorale of the corpus, given as a JSB piece of a held-out split (its voices, as the separated
    chorales hold them), goes to that split; without it, to its own split by name. (The corpus' first score
    has five parts, its second four.)"""
    alone = load_data(["music21:bach:2"], min_steps=16, log=lambda s: None)
    [(own_split, piece)] = [(s, p) for s, ps in alone.splits.items() for p in ps if p.name == "bach/bwv10.7.mxl"]
    assert piece.voices is not None and piece.voices.shape[1] == 4
    five = next(p for ps in alone.splits.values() for p in ps if p.name == "bach/bwv1.6.mxl")
    assert five.voices is None and five.matrix[:, :, PLAY].sum(1).max() >= 4  # its parts together, played solo
    held_out = "valid" if own_split == "test" else "test"
    jsb = tmp_path / "Jsb16thSeparated.json"
    other = [[[60 + (t // 4) % 7, 55, 52, 48] for t in range(64)]]
    jsb.write_text(json.dumps({"train": other, "valid": other, "test": other, held_out: [piece.voices.tolist()]}))
    lines = []
    both = load_data(["music21:bach:2", str(jsb)], min_steps=16, log=lines.append)
    assert [p.name for p in both.splits[held_out]] == ["Jsb16thSeparated/" + held_out + "/0", "bach/bwv10.7.mxl"]
    assert any("put in the split of the JSB piece" in line for line in lines)
