import numpy as np
import pytest
import torch

from live_biaxial_training.config import ModelConfig
from live_biaxial_training.model import BiaxialLSTM, StepCell, loss_per_step, nll_terms

TINY = ModelConfig(time_sizes=(24, 24), pitch_sizes=(16, 8), dropout=0.0)


def test_articulate_bit_is_masked_where_the_note_does_not_play():
    logits = torch.zeros(1, 1, 78, 2)
    target = torch.zeros(1, 1, 78, 2)
    target[0, 0, 5] = torch.tensor([1.0, 1.0])
    play, artic = nll_terms(logits, target)
    assert torch.isclose(play, torch.tensor(78 * np.log(2.0), dtype=torch.float32))
    assert torch.isclose(artic, torch.tensor(np.log(2.0), dtype=torch.float32))  # one playing note only
    # changing the articulate logit of a silent note changes nothing
    logits2 = logits.clone()
    logits2[0, 0, 6, 1] = 9.0
    assert torch.equal(nll_terms(logits2, target)[1], artic)


def loop_piece(repeats=2):
    """A two-bar loop: C, F, G, C chords held for a half note each (16ths: 32 steps)."""
    chords = [(36, 40, 43, 48), (41, 45, 48, 53), (43, 47, 50, 55), (36, 40, 43, 52)]
    m = np.zeros((32, 78, 2), np.float32)
    for k, chord in enumerate(chords):
        for p in chord:
            m[8 * k : 8 * k + 8, p - 24, 0] = 1
            m[8 * k, p - 24, 1] = 1
    return np.tile(m, (repeats, 1, 1))


def test_tiny_model_overfits_a_two_bar_loop():
    torch.manual_seed(0)
    model = BiaxialLSTM(ModelConfig(time_sizes=(32, 32), pitch_sizes=(16, 16), dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    piece = torch.from_numpy(loop_piece())[None]  # (1, 64, 78, 2)
    steps = torch.arange(piece.shape[1])[None]
    first = None
    for i in range(600):
        loss = loss_per_step(model(piece, steps), piece[:, 1:])
        first = first if first is not None else loss.item()
        if loss.item() < 0.05:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 10 and loss.item() < 0.05, (first, i, loss.item())


@pytest.mark.parametrize("key_memory_steps", [0, 4])
def test_step_cell_probabilities_equal_the_training_forward(key_memory_steps):
    torch.manual_seed(1)
    model = BiaxialLSTM(ModelConfig(time_sizes=(20, 12), pitch_sizes=(10, 6, 4), key_memory_steps=key_memory_steps)).eval()
    cell = StepCell(model)
    assert cell.state_size == 64 + (12 if key_memory_steps else 0)
    notes = torch.zeros(78, 2)
    notes[[30, 34, 37], :] = 1
    state = torch.zeros(78, cell.state_size)
    seq = [notes]
    probs = []
    with torch.no_grad():
        for t in range(12):  # three time constants of the key memory: its recurrence against the matmul
            new, p, state = cell(seq[-1], torch.tensor(t), state, torch.rand(78, 2), torch.tensor(0.8),
                                 torch.tensor(1.0), torch.zeros(78))
            seq.append(new)
            probs.append(p)
        logits = model(torch.stack(seq)[None], torch.arange(13)[None])  # teacher-forced on the sampled notes
    expect = torch.sigmoid(logits[0])
    np.testing.assert_allclose(torch.stack(probs).numpy(), expect.numpy(), atol=1e-5)


def test_a_model_widened_with_a_key_memory_starts_as_its_parent_and_then_uses_it():
    from live_biaxial.errors import ModelFileError
    from live_biaxial_training.checkpoint import load_widened

    torch.manual_seed(2)
    sizes = dict(time_sizes=(20, 12), pitch_sizes=(10, 4), dropout=0.0)
    parent = BiaxialLSTM(ModelConfig(**sizes)).eval()
    child = BiaxialLSTM(ModelConfig(**sizes, key_memory_steps=16)).eval()
    load_widened(child, parent.state_dict(), "parent.pt")
    piece = torch.from_numpy(loop_piece(3))[None]  # (1, 96, 78, 2)
    steps = torch.arange(piece.shape[1])[None]
    with torch.no_grad():
        assert torch.equal(parent(piece, steps), child(piece, steps))
        child.time_layers[0].weight_ih_l0[:, -12:].normal_()  # once the memory's weights move, it matters
        assert not torch.allclose(parent(piece, steps), child(piece, steps), atol=1e-3)
    other = BiaxialLSTM(ModelConfig(time_sizes=(20, 14), pitch_sizes=(10, 4)))
    with pytest.raises(ModelFileError, match="parent.pt: its weights do not fit this model"):
        load_widened(other, parent.state_dict(), "parent.pt")
