"""A model that listens: the player's part and the meter as inputs, the voice split of its training batches,
its step graph and model file."""

import numpy as np
import pytest
import torch

from live_biaxial.errors import ModelFileError
from live_biaxial.model_file import Cell
from live_biaxial.music.representation import LOW_NOTE, voices_to_matrix
from live_biaxial_training import checkpoint
from live_biaxial_training.config import ModelConfig
from live_biaxial_training.data import Piece
from live_biaxial_training.features import N_METER, N_PART, meter_features
from live_biaxial_training.model import BiaxialLSTM, StepCell
from live_biaxial_training.parts import EVAL_PARTS, PLAYER_PARTS, sample_part_batch, voices_matrix
from tests.conftest import run_cli
from tests.tiny_models import export

SIZES = dict(time_sizes=(20, 12), pitch_sizes=(10, 6), dropout=0.0)


def chorale(steps=64, seed=0):
    """Four voices (T, 4) moving by step, each held two 16ths or more, the tenor resting a while."""
    rng = np.random.default_rng(seed)
    base = np.array([72, 65, 58, 48])
    voices = np.zeros((steps, 4), np.int16)
    for t in range(0, steps, 2):
        voices[t : t + 2] = base + rng.integers(-2, 3, 4)
    voices[10:14, 2] = -1
    return voices


def test_a_voice_matrix_strikes_where_a_voice_moves_or_enters_and_parts_together_make_the_piece():
    v = chorale()
    both = voices_matrix(v, [0, 1, 2, 3])
    np.testing.assert_array_equal(both, voices_to_matrix(v.tolist()))
    soprano = voices_matrix(v, [0])
    assert soprano[0, v[0, 0] - LOW_NOTE, 1] == 1  # struck as it enters
    held = [t for t in range(1, 64) if v[t, 0] == v[t - 1, 0]]
    assert held and all(soprano[t, v[t, 0] - LOW_NOTE].tolist() == [1, 0] for t in held)
    assert voices_matrix(v, [2])[10:14, :, 0].sum() == 0  # the rest
    up = voices_matrix(v, [0], shift=3)
    np.testing.assert_array_equal(up[:, 3:], soprano[:, :-3])


def test_each_segment_gives_the_player_some_voices_and_the_model_the_others():
    pieces = [Piece(f"p{i}", voices_to_matrix(chorale(192, i).tolist()), chorale(192, i)) for i in range(3)]
    drawn = []
    for seed in range(40):
        b = sample_part_batch(pieces, np.random.default_rng(seed), 4, 64, 16, transpose=0)
        for k, player in enumerate(b["player"]):
            drawn.append(player)
            own, human = b["states"][k, :, :, 0] > 0, b["human"][k, :, :, 0] > 0
            assert b["steps"][k, 0] == 0 and (b["meter"][k] == (16, 4)).all()  # segments start on a bar line
            assert not human.any() if player == () else human.any()
            # what the two hold together is the whole piece's segment
            assert ((own | human) == (b["states"][k, :, :, 0] + b["human"][k, :, :, 0] > 0)).all()
    counts = {p: drawn.count(p) for p in PLAYER_PARTS}
    assert all(counts[p] > 0 for p in EVAL_PARTS.values()), counts  # none, S, B and SB all drawn
    assert counts[(0,)] > counts[(1,)]  # the soprano far more often than the alto alone
    assert sum(n for p, n in counts.items() if len(p) == 3) > 0  # chords: three voices the player's
    solo = [Piece("midi", voices_to_matrix(chorale(128).tolist()))]  # no voices: played solo
    b = sample_part_batch(solo, np.random.default_rng(0), 2, 64, 16)
    assert b["player"] == [(), ()] and b["human"].sum() == 0 and b["states"].sum() > 0


def test_meter_features_mark_the_bar_the_beat_and_the_kind_of_meter():
    pos = torch.tensor([0, 4, 6, 5])
    f = meter_features(pos, torch.tensor([[16, 4], [12, 4], [12, 6], [24, 6]]))
    assert f.shape == (4, N_METER)
    assert f[:, 0].tolist() == [1, -1, -1, -1]  # on the bar line
    assert f[:, 1].tolist() == [1, 1, 1, -1]  # on a beat (the second of 6/8 is at 6)
    assert f[:, 2].tolist() == [-1, -1, 1, 1]  # compound: 6/8 and 12/8
    assert f[:, 3].tolist() == [-1, 1, -1, -1]  # triple: 3/4
    assert f[0, 4] == -1 and abs(f[1, 4] - (2 * 4 / 12 - 1)) < 1e-6


def listening_model(seed=5) -> BiaxialLSTM:
    torch.manual_seed(seed)
    model = BiaxialLSTM(ModelConfig(**SIZES, listens=True)).eval()
    with torch.no_grad():  # the new inputs' weights away from zero, so they matter
        model.time_layers[0].weight_ih_l0[:, -(N_METER + N_PART):].normal_(0, 0.3)
        model.pitch_layers[0].weight_ih_l0[:, -2:].normal_(0, 1.0)
    return model


def test_a_solo_model_widened_to_listen_plays_as_before_until_it_learns_to():
    torch.manual_seed(2)
    parent = BiaxialLSTM(ModelConfig(**SIZES)).eval()
    child = BiaxialLSTM(ModelConfig(**SIZES, listens=True)).eval()
    checkpoint.load_widened(child, parent.state_dict(), "parent.pt")
    v = chorale()
    states = torch.from_numpy(voices_matrix(v, [1, 2, 3]))[None]
    human = torch.from_numpy(voices_matrix(v, [0]))[None]
    steps = torch.arange(64)[None] % 16
    meter = torch.tensor([16, 4]).expand(1, 64, 2)
    with torch.no_grad():
        assert torch.equal(parent(states, steps), child(states, steps, None, human, meter))
        heard = listening_model()
        assert not torch.allclose(heard(states, steps, None, human, meter),
                                  heard(states, steps, None, torch.zeros_like(human), meter), atol=1e-3)


def test_the_step_graph_hears_the_player_as_the_training_forward_does():
    model = listening_model()
    cell = StepCell(model)
    v = chorale(24)
    human = torch.from_numpy(voices_matrix(v, [0, 3]))  # (T, 78, 2) soprano and bass: the player's
    meter = torch.tensor([12, 6])  # 6/8
    notes = torch.zeros(78, 2)
    seq, probs = [notes], []
    state = torch.zeros(78, cell.state_size)
    with torch.no_grad():
        for t in range(24):
            new, p, state = cell(seq[-1], torch.tensor((t - 1) % 12), state, torch.rand(78, 2), torch.tensor(1.0),
                                 torch.tensor(1.0), torch.zeros(78), human[t], meter)
            seq.append(new)
            probs.append(p)
        states = torch.stack(seq)[None]  # (1, 25, 78, 2)
        steps = (torch.arange(-1, 24) % 12)[None]
        heard = torch.cat([torch.zeros(1, 78, 2), human])[None]
        logits = model(states, steps, None, heard, meter.expand(1, 25, 2))
    np.testing.assert_allclose(torch.stack(probs).numpy(), torch.sigmoid(logits[0]).numpy(), atol=1e-5)
    # the walk draws what the step draws, for the same noise
    noise = torch.rand(1, 1, 78, 2)
    with torch.no_grad():
        walked = model.walk(model.time_axis(states[:, :2], steps[:, :2], heard[:, :2], meter.expand(1, 2, 2)),
                            noise, heard[:, 1:2])
        stepped, _, _ = cell(states[0, 0], steps[0, 0], torch.zeros(78, cell.state_size), noise[0, 0],
                             torch.tensor(1.0), torch.tensor(1.0), torch.zeros(78), heard[0, 1], meter)
    assert torch.equal(walked[0, 0], stepped)


@pytest.fixture(scope="module")
def listening_file(tmp_path_factory):
    return export(listening_model(), tmp_path_factory.mktemp("listening"), "listens.onnx")


def test_an_exported_listening_model_is_format_2_and_hears_the_player(listening_file):
    cell = Cell(listening_file)
    assert cell.listens and cell.meta["format"] == "live-biaxial-onnx/2"
    args = (np.zeros((78, 2), np.float32), np.int64(3), np.zeros((78, cell.state_size), np.float32),
            np.full((78, 2), 0.5, np.float32), np.float32(1), np.float32(1), np.zeros(78, np.float32))
    alone = cell(*args)[1].copy()
    part = np.zeros((78, 2), np.float32)
    part[[60 - LOW_NOTE, 64 - LOW_NOTE, 67 - LOW_NOTE]] = 1
    heard = cell(*args, part, np.array([16, 4], np.int64))[1].copy()
    assert not np.allclose(alone, heard, atol=1e-4)
    np.testing.assert_allclose(cell(*args)[1], alone)  # nobody playing is the default
    # and it goes back into training weights as it came out
    again = checkpoint.load(listening_file)
    assert again["model_config"]["listens"] is True


def test_a_model_file_whose_inputs_do_not_fit_its_format_is_refused_in_one_line(listening_file, tiny_model, tmp_path):
    import onnx

    proto = onnx.load(str(tiny_model[1]))
    for entry in proto.metadata_props:
        if entry.key == "format":
            entry.value = "live-biaxial-onnx/2"
    bad = tmp_path / "solo_as_2.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ModelFileError, match="damaged model: inputs .* do not match 'live-biaxial-onnx/2'"):
        Cell(bad)
    for entry in proto.metadata_props:
        if entry.key == "format":
            entry.value = "live-biaxial-onnx/9"
    onnx.save(proto, str(bad))
    with pytest.raises(ModelFileError, match="plays 'live-biaxial-onnx/1', 'live-biaxial-onnx/2' and 'live-biaxial-onnx/3'"):
        Cell(bad)
    assert not Cell(tiny_model[1]).listens  # the solo format still plays


def test_the_engine_gives_a_listening_model_the_player_apart_and_the_meter(listening_file):
    import mido

    from tests.fakes import CountingCell, FakePort, flat_engine, flat_out

    cell = CountingCell(Cell(listening_file))
    bars = []
    engine = flat_engine(cell, FakePort(), meter=(12, 6))
    engine.on_bar = bars.append
    flat_out(engine, 2)
    engine.human(mido.Message("note_on", note=60, velocity=90))
    flat_out(engine, 2, start=False)
    engine.human(mido.Message("note_off", note=60))
    flat_out(engine, 22, start=False)
    engine.close()
    n = 60 - LOW_NOTE
    struck = [k for k, h in enumerate(cell.heard) if h[n, 1]]
    assert len(struck) == 1  # struck once, then held
    k = struck[0]
    assert cell.heard[k + 1][n].tolist() == [1, 0] and not cell.heard[k + 2][n].any()
    # the model is fed back what it played, never the player's notes as its own (warm-up steps first)
    first = len(cell.fed) - len(cell.heard)
    steps = list(zip(cell.fed[first + 1 :], cell.played[first:]))
    assert len(steps) > 20 and all(np.array_equal(fed, played) for fed, played in steps)
    assert set(cell.meters) == {(12, 6)}
    assert cell.steps[-12:] == [(s - 1) % 12 for s in range(14, 26)]  # the previous 16th's place in its bar
    assert [b["bar"] for b in bars] == [1, 2]  # 26 16ths of 6/8: two whole bars


def test_a_listening_model_steps_as_late_as_its_step_time_allows(listening_file, tiny_model):
    from live_biaxial.engine import Engine, EngineSettings
    from tests.fakes import FakePort

    listening = Engine(Cell(listening_file), FakePort(), settings=EngineSettings(margin_s=0.004)).open()
    solo = Engine(Cell(tiny_model[1]), FakePort()).open()
    try:
        dt16 = 0.125  # 120 BPM
        listening.step_ms.extend([1.0] * 100 + [2.0] * 2)  # p99 about 2 ms
        p99 = listening._step_p99_s()
        assert 0.001 <= p99 <= 0.002
        assert listening._step_delay(dt16) == pytest.approx(dt16 - 2 * p99 - 0.004)
        assert solo._step_delay(dt16) == pytest.approx(0.25 * dt16)  # a solo model: a quarter of the 16th in
        assert listening._step_delay(0.008) == pytest.approx(0.25 * 0.008)  # never earlier than that
    finally:
        listening.close()
        solo.close()


def intervals(track) -> list[tuple[int, int, int]]:
    """(start tick, end tick, note) of each note of a MIDI track."""
    t, on, out = 0, {}, []
    for m in track:
        t += m.time
        if m.type == "note_on" and m.velocity:
            on[m.note] = t
        elif m.type in ("note_on", "note_off") and m.note in on:
            out.append((on.pop(m.note), t, m.note))
    return out


def test_generate_accompanies_a_part_in_its_meter_on_two_tracks(listening_file, tmp_path):
    import mido

    part = tmp_path / "melody.mid"
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0)])
    for k, note in enumerate([67, 69, 71, 72, 71, 69, 67, 66, 67]):  # nine quarter notes: three bars of 3/4
        track += [mido.Message("note_on", note=note, velocity=80, time=0), mido.Message("note_off", note=note, time=480)]
    midi.tracks.append(track)
    midi.save(part)
    out = tmp_path / "duet.mid"
    r = run_cli("generate", "--model", listening_file, "--accompany", part, "--out", out, "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "3 bars along with" in r.stdout
    duet = mido.MidiFile(out)
    assert [t.name for t in duet.tracks] == ["live-biaxial", "melody"]
    sig = [m for m in duet.tracks[0] if m.type == "time_signature"][0]
    assert (sig.numerator, sig.denominator) == (3, 4)  # no --meter: the part's own
    melody = [m.note for m in duet.tracks[1] if m.type == "note_on" and m.velocity]
    assert melody == [67, 69, 71, 72, 71, 69, 67, 66, 67]
    r = run_cli("generate", "--model", listening_file, "--accompany", part, "--out", out, "--seed", "3",
                "--no-doubling")
    assert r.returncode == 0, r.stderr
    spans = [intervals(t) for t in mido.MidiFile(out).tracks]
    assert spans[0] and not [(a, b) for a in spans[0] for b in spans[1] if a[2] == b[2] and a[0] < b[1] and b[0] < a[1]]
    r = run_cli("generate", "--model", listening_file, "--accompany", part, "--prime", part, "--out", out)
    assert r.returncode == 2 and "choose one" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("generate", "--model", listening_file, "--meter", "7/5", "--out", out)
    assert r.returncode == 2 and "--meter 7/5" in r.stderr


@pytest.mark.parametrize("leave", [True, False])
def test_a_listening_model_leaves_the_pitches_the_player_sounds_to_the_player(listening_file, leave):
    import mido

    from live_biaxial.steering.controls import Controls
    from live_biaxial.steering.generation import generate
    from tests.fakes import CountingCell, FakePort, flat_engine, flat_out

    held = [60 - LOW_NOTE, 64 - LOW_NOTE, 67 - LOW_NOTE]
    cell = CountingCell(Cell(listening_file))
    engine = flat_engine(cell, FakePort(), Controls(density=4.0, leave_players_notes=leave))  # eager to play
    flat_out(engine, 2)
    for n in (60, 64, 67):
        engine.human(mido.Message("note_on", note=n, velocity=90))
    flat_out(engine, 24, start=False)
    engine.close()
    first = len(cell.played) - len(cell.heard)  # the warm-up's steps hear nobody
    while_held = [played for heard, played in zip(cell.heard, cell.played[first:]) if heard[held, 0].all()]
    assert len(while_held) > 20
    doubled = sum(int(p[held, 0].sum()) for p in while_held)
    assert (doubled == 0) if leave else (doubled > 0), doubled  # closed to it (--no-doubling), or open (the default)
    assert sum(int(p[:, 0].sum()) for p in while_held) > 20  # it plays on around them

    part = np.zeros((48, 78, 2), np.float32)
    part[:, held, 0] = 1
    part[0, held, 1] = 1
    c = Cell(listening_file)
    notes, _ = generate(c, c.state_size, 48, play_bias=np.full(78, 4.0, np.float32), human=part,
                        leave_players_notes=leave)
    assert (notes[:, held, 0].sum() == 0) == leave  # generate --accompany does the same
