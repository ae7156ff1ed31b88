"""A model that knows chords: its training labels and batches, its step graph and file (format 3), the chord it
is given by play and generate (a chart, a chord track apart from the player's part, the player's chord, its
plan), the harmony control, and older model files beside it."""

import mido
import numpy as np
import pytest
import torch

from live_biaxial.model_file import Cell
from live_biaxial.music.chords import ChordChart, parse_chord
from live_biaxial.steering.generation import generate, seed_step
from live_biaxial.steering.harmony import HarmonyFollower
from live_biaxial.music.representation import LOW_NOTE, N_NOTES
from live_biaxial_training import checkpoint
from live_biaxial_training.config import ModelConfig
from live_biaxial_training.data import Piece
from live_biaxial_training.features import N_CHORD
from live_biaxial_training.model import BiaxialLSTM, StepCell
from live_biaxial_training.parts import harmony_segment, sample_part_batch, voices_matrix
from tests.conftest import run_cli
from tests.tiny_models import export
from tests.fakes import CountingCell, FakePort, flat_engine, flat_out
from tests.test_listening import listening_file  # noqa: F401  (a fixture: a model file of format 2)

SIZES = dict(time_sizes=(20, 12), pitch_sizes=(10, 6), dropout=0.0)


def progression_piece(bars=4) -> Piece:
    """Four voices holding C, F, G7, C a bar each (T = 16 * bars)."""
    chords = [(48, 64, 67, 72), (53, 65, 69, 72), (43, 65, 71, 74), (48, 64, 67, 72)]
    voices = np.zeros((16 * bars, 4), np.int16)
    for b in range(bars):
        voices[16 * b : 16 * b + 16] = chords[b % 4][::-1]  # soprano first
    m = voices_matrix(voices, range(4)).astype(np.uint8)
    return Piece("progression", m, voices)


def chord_model(seed=4) -> BiaxialLSTM:
    torch.manual_seed(seed)
    model = BiaxialLSTM(ModelConfig(**SIZES, listens=True, chords=True)).eval()
    with torch.no_grad():  # weights on the new inputs and the plan head, so that they show
        model.time_layers[0].weight_ih_l0[:, -N_CHORD:].normal_(0, 0.5)
        model.plan_head.weight.normal_(0, 0.5)
    return model


def test_training_batches_carry_each_beats_chord_and_the_next_beats_as_the_plan():
    piece = progression_piece()
    chord, plan = harmony_segment(piece, 0, 64)
    assert np.array_equal(chord[0], parse_chord("C").as_input())
    assert np.array_equal(chord[16], parse_chord("F").as_input())
    assert np.array_equal(chord[32], parse_chord("G7").as_input())
    # the plan of a step: the chord of the beat after its own (C within bar 1, F from bar 1's last beat on)
    assert plan[0] == plan[11] == parse_chord("C").index
    assert plan[12] == plan[15] == parse_chord("F").index
    assert plan[-1] == -1  # past the piece's end
    moved_chord, moved_plan = harmony_segment(piece, 0, 64, shift=2)
    assert np.array_equal(moved_chord[32], parse_chord("A7").as_input()) and moved_plan[15] == parse_chord("G").index
    rng = np.random.default_rng(0)
    batch = sample_part_batch([piece], rng, 16, 32, 16, 0, None, chord_dropout=0.5)
    given = batch["chord"].reshape(16, -1).any(axis=1)
    assert 0 < given.sum() < 16  # a share of the segments plays without a chord
    assert (batch["plan"] >= 0).any()
    plain = sample_part_batch([piece], np.random.default_rng(0), 16, 32, 16)  # a model without chords: as before
    assert "chord" not in plain and np.array_equal(plain["states"], sample_part_batch(
        [piece], np.random.default_rng(0), 16, 32, 16)["states"])


def test_a_listening_model_widened_to_know_chords_plays_as_before_until_it_learns_to():
    torch.manual_seed(2)
    parent = BiaxialLSTM(ModelConfig(**SIZES, listens=True)).eval()
    child = BiaxialLSTM(ModelConfig(**SIZES, listens=True, chords=True)).eval()
    checkpoint.load_widened(child, parent.state_dict(), "parent.pt")
    piece = progression_piece()
    states = torch.from_numpy(voices_matrix(piece.voices, [1, 2, 3]))[None]
    human = torch.from_numpy(voices_matrix(piece.voices, [0]))[None]
    steps, meter = torch.arange(64)[None] % 16, torch.tensor([16, 4]).expand(1, 64, 2)
    chord = torch.from_numpy(harmony_segment(piece, 0, 64)[0])[None]
    with torch.no_grad():
        assert torch.equal(parent(states, steps, None, human, meter), child(states, steps, None, human, meter, chord))
        knows = chord_model()
        assert not torch.allclose(knows(states, steps, None, human, meter, chord),
                                  knows(states, steps, None, human, meter, torch.zeros_like(chord)), atol=1e-3)


def test_the_step_graph_knows_the_chord_and_plans_as_the_training_forward_does():
    model = chord_model()
    cell = StepCell(model)
    piece = progression_piece(2)
    human = torch.from_numpy(voices_matrix(piece.voices, [0]))
    chords = torch.from_numpy(harmony_segment(piece, 0, 32)[0])  # (32, 3, 12)
    meter = torch.tensor([16, 4])
    seq, probs, plans = [torch.zeros(78, 2)], [], []
    state = torch.zeros(78, cell.state_size)
    with torch.no_grad():
        for t in range(32):
            new, p, state, plan = cell(seq[-1], torch.tensor((t - 1) % 16), state, torch.rand(78, 2), torch.tensor(1.0),
                                       torch.tensor(1.0), torch.zeros(78), human[t], meter, chords[t])
            seq.append(new)
            probs.append(p)
            plans.append(plan)
        states = torch.stack(seq)[None]
        steps = (torch.arange(-1, 32) % 16)[None]
        pad = lambda x: torch.cat([torch.zeros_like(x[:1]), x])[None]  # noqa: E731
        logits, plan = model(states, steps, None, pad(human), meter.expand(1, 33, 2), pad(chords), with_plan=True)
    np.testing.assert_allclose(torch.stack(probs).numpy(), torch.sigmoid(logits[0]).numpy(), atol=1e-5)
    np.testing.assert_allclose(torch.stack(plans).numpy(), plan[0].numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def chord_file(tmp_path_factory):
    return export(chord_model(), tmp_path_factory.mktemp("chords"), "chords.onnx")


def test_an_exported_chord_model_is_format_3_hears_the_chord_and_goes_back_into_training(chord_file):
    cell = Cell(chord_file)
    assert cell.chords and cell.listens and cell.meta["format"] == "live-biaxial-onnx/3"
    args = (np.zeros((78, 2), np.float32), np.int64(3), np.zeros((78, cell.state_size), np.float32),
            np.full((78, 2), 0.5, np.float32), np.float32(1), np.float32(1), np.zeros(78, np.float32),
            np.zeros((78, 2), np.float32), np.array([16, 4], np.int64))
    none = cell(*args)[1].copy()
    none_plan = cell.plan.copy()
    given = cell(*args, parse_chord("Am").as_input())[1].copy()
    assert not np.allclose(none, given, atol=1e-4) and not np.allclose(none_plan, cell.plan, atol=1e-4)
    assert cell.plan.shape == (156,)
    np.testing.assert_allclose(cell(*args)[1], none)  # no chord is the default
    again = checkpoint.load(chord_file)
    assert again["model_config"]["chords"] is True
    model = BiaxialLSTM(ModelConfig.from_dict(again["model_config"]))
    model.load_state_dict(again["model"])  # the plan head's weights come back too
    assert torch.allclose(model.plan_head.weight, chord_model().plan_head.weight, atol=1e-6)


def test_generate_gives_a_chord_model_the_chart_then_its_plan(chord_file):
    cell = CountingCell(Cell(chord_file))
    chart = HarmonyFollower(ChordChart.parse("Dm | G7"), plans=True, record=True)
    generate(cell, cell.state_size, 48, seed_notes=seed_step(), harmony=chart)
    assert np.array_equal(cell.chord_inputs[0], parse_chord("Dm").as_input())
    assert np.array_equal(cell.chord_inputs[16], parse_chord("G7").as_input())
    assert np.array_equal(cell.chord_inputs[32], parse_chord("Dm").as_input())  # the chart repeats
    planned = CountingCell(Cell(chord_file))
    own = HarmonyFollower(plans=True, record=True)
    generate(planned, planned.state_size, 32, seed_notes=seed_step(), harmony=own)
    assert not planned.chord_inputs[0].any()  # nothing planned before the first beat's end
    assert [s for _, s in own.followed[4:]] == ["plan"] * 28  # then a chord a beat from the plan
    assert all(planned.chord_inputs[t].any() for t in range(4, 32))
    beats = [own.followed[t][0] for t in range(4, 32, 4)]
    assert all(own.followed[t][0] == beats[(t - 4) // 4] for t in range(4, 32))  # drawn once a beat


def test_the_engine_takes_the_chord_track_apart_from_the_players_part(chord_file):
    cell = CountingCell(Cell(chord_file))
    engine = flat_engine(cell, FakePort(), chord_channel=1)
    flat_out(engine, 2)
    for note in (57, 60):  # A and C on the chord track: A minor (two notes are enough for a track)
        engine.human(mido.Message("note_on", channel=1, note=note, velocity=90))
    engine.human(mido.Message("note_on", channel=0, note=76, velocity=90))  # the player's E5
    flat_out(engine, 4, start=False)
    engine.close()
    assert engine.harmony.source == "track" and engine.harmony.chord.name == "Am"
    assert np.array_equal(cell.chord_inputs[-1], parse_chord("Am").as_input())
    heard = cell.heard[-1]
    assert heard[76 - LOW_NOTE, 0] == 1 and heard[57 - LOW_NOTE, 0] == 0 and heard[60 - LOW_NOTE, 0] == 0


def test_the_engine_follows_the_chord_the_player_holds_and_the_harmony_control_keeps_to_it(tiny_model):
    from live_biaxial.steering.controls import Controls

    cell = CountingCell(Cell(tiny_model[1]))  # a solo model: the chord reaches it through the harmony control
    engine = flat_engine(cell, FakePort(), Controls(harmony=1.0))
    flat_out(engine, 2)
    for note in (53, 57, 60):  # F major
        engine.human(mido.Message("note_on", note=note, velocity=90))
    flat_out(engine, 8, start=False)
    engine.close()
    assert (engine.harmony.chord.name, engine.harmony.source) == ("F", "player")
    pc = (np.arange(N_NOTES) + LOW_NOTE) % 12
    tones = np.isin(pc, (5, 9, 0))
    tones[[53 - LOW_NOTE, 57 - LOW_NOTE, 60 - LOW_NOTE]] = False  # the player's own pitches are left to the player
    kept = [b for b in cell.biases if np.isinf(b).any()]
    assert kept, "the harmony control never acted"
    on_beat = [b for b in kept if np.array_equal(np.isfinite(b), tones)]
    assert on_beat  # on the beats only the chord's tones (less the player's) are open
    near = np.convolve(np.isin(pc, (5, 9, 0)), np.ones(5), "same") > 0  # off the beat, a step from a chord tone
    assert all(np.all(near[np.isfinite(b)]) for b in kept)


def test_generate_writes_the_chords_it_followed_and_reads_them_back(chord_file, tmp_path):
    out = tmp_path / "g.mid"
    r = run_cli("generate", "--model", chord_file, "--bars", "2", "--out", out, "--chords", "Am | F G")
    assert r.returncode == 0, r.stderr
    assert "chords from the chart Am | F G" in r.stdout
    markers = [m.text for t in mido.MidiFile(out).tracks for m in t if m.type == "marker"]
    assert markers == ["Am", "F", "G"]
    again = tmp_path / "again.mid"
    r = run_cli("generate", "--model", chord_file, "--bars", "2", "--out", again, "--chords-from", out)
    assert r.returncode == 0, r.stderr
    assert [m.text for t in mido.MidiFile(again).tracks for m in t if m.type == "marker"] == markers


@pytest.mark.parametrize("args, word", [
    (["--chords", "Am | H7"], "chord 'H7': not a chord symbol"),
    (["--chords", "Am | Cadd9"], "unknown chord quality 'add9'"),
    (["--chords", "Am", "--chords-from", "x.mid"], "choose one chart"),
    (["--harmony", "1.5"], "--harmony 1.5"),
    (["--chords-from", "/no/such.mid"], "no/such.mid"),
])
def test_bad_harmony_options_are_one_line(args, word, tmp_path):
    r = run_cli("generate", "--bars", "1", "--out", tmp_path / "x.mid", *args)
    assert r.returncode == 2 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize("name", ["solo.onnx", "listening"])
def test_older_model_files_follow_a_chart_through_the_harmony_control(name, tmp_path, listening_file):
    from live_biaxial.model_file import DEFAULT_MODEL

    model = DEFAULT_MODEL.parent / name if name.endswith(".onnx") else listening_file
    assert not Cell(model).chords  # format 1 (solo) or 2 (listening)
    out = tmp_path / "older.mid"
    r = run_cli("generate", "--model", model, "--bars", "4", "--out", out, "--chords", "C | Am", "--harmony", "1")
    assert r.returncode == 0, r.stderr
    midi = mido.MidiFile(out)
    tick, on_beat = 0, []
    for m in midi.tracks[0]:
        tick += m.time
        if m.type == "note_on" and m.velocity and tick % midi.ticks_per_beat == 0:
            on_beat.append((tick // (4 * midi.ticks_per_beat), m.note % 12))
    assert on_beat, "it played nothing on a beat"
    assert all(pc in ((0, 4, 7) if bar % 2 == 0 else (9, 0, 4)) for bar, pc in on_beat), on_beat
