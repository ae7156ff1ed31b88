"""The 80 inputs per note against hand-computed cases."""

import torch

from live_biaxial_training.features import N_FEATURES, NoteFeatures, key_memory_decay, key_memory_over_time, key_memory_step

F = NoteFeatures()


def feats(playing, artic=(), step=0):
    state = torch.zeros(78, 2)
    for n in playing:
        state[n, 0] = 1
    for n in artic:
        state[n, 1] = 1
    return F(state, torch.tensor(step))  # (78, 80)


def test_shape_position_and_pitch_class():
    x = feats([])
    assert x.shape == (78, N_FEATURES)
    assert x[0, 0] == 0 and x[77, 0] == 77
    # note 0 is MIDI 24 = C; note 13 is C#
    assert x[0, 1:13].tolist() == [1] + [0] * 11
    assert x[13, 1:13].argmax() == 1 and x[13, 1:13].sum() == 1
    assert x[:, 79].abs().sum() == 0  # the constant zero


def test_vicinity_window_and_edges():
    x = feats([10], artic=[10])
    vic = x[:, 13:63].reshape(78, 25, 2)
    # note 10 sees itself at offset 12 (centre); note 0 sees note 10 at offset 10+12-0 = 22
    assert vic[10, 12].tolist() == [1, 1]
    assert vic[0, 22].tolist() == [1, 1]
    assert vic[22, 0].tolist() == [1, 1]  # 12 below note 22
    assert vic[23].sum() == 0 and vic[0, :12].sum() == 0  # out of reach / outside the window
    # the top note: the window above it is all zeros, its own state at the centre
    x = feats([77])
    vic = x[:, 13:63].reshape(78, 25, 2)
    assert vic[77, 12].tolist() == [1, 0] and vic[77, 13:].sum() == 0
    assert vic[65, 24].tolist() == [1, 0]


def test_context_counts_rotated_to_own_pitch_class():
    # a C major triad twice: C (0), E (4), G (7) in two octaves, plus one more E
    x = feats([0, 4, 7, 12, 16, 19, 28])
    ctx = x[:, 63:75]
    assert ctx[0].tolist() == [2, 0, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0]  # seen from a C
    assert ctx[4].tolist() == [3, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0]  # seen from an E: E, G, C
    assert ctx[2].tolist() == [0, 0, 3, 0, 0, 2, 0, 0, 0, 0, 2, 0]  # from a D


def test_beat_bits():
    for step, bits in [(0, [-1, -1, -1, -1]), (1, [1, -1, -1, -1]), (6, [-1, 1, 1, -1]), (15, [1, 1, 1, 1]), (16, [-1, -1, -1, -1]), (-1, [1, 1, 1, 1])]:
        assert feats([], step=step)[5, 75:79].tolist() == bits


def test_batched_equals_single():
    state = (torch.rand(3, 5, 78, 2) > 0.8).float()
    steps = torch.arange(15).reshape(3, 5)
    batched = F(state, steps)
    assert batched.shape == (3, 5, 78, 80)
    assert torch.equal(batched[2, 4], F(state[2, 4], steps[2, 4]))


def test_key_memory_remembers_pitch_classes_for_its_time_constant():
    c_major = feats([36 - 24, 40 - 24, 43 - 24])[:, 63:75]  # (78, 12) C E G
    silence = feats([])[:, 63:75]
    context = torch.stack([c_major] * 8 + [silence] * 8)[None]  # (1, 16, 78, 12)
    decay = key_memory_decay(8)
    memory = key_memory_over_time(context, decay)
    mem = torch.zeros(78, 12)  # the step-by-step recurrence that the ONNX cell carries in its state
    for t in range(16):
        mem = key_memory_step(mem, context[0, t], decay)
        torch.testing.assert_close(memory[0, t], mem)
    c = memory[0, :, 0, :]  # note 0 (a C) sees classes relative to C
    assert c[7, 0] > 0.6 and c[7, 4] > 0.6 and c[7, 7] > 0.6 and c[7, 1] == 0  # 1 - (7/8)^8 of the way up
    assert c[15, 0] > 0.25 * c[7, 0]  # 8 silent steps later it still holds about a third
    assert torch.all(c[8:, 0][1:] < c[8:, 0][:-1])  # and fades step by step
