"""Fakes for unit tests of the engine's logic (the JACK tests use real ports)."""

import dataclasses

import numpy as np

from live_biaxial.engine import Engine, EngineSettings

# No real time passes between the pulses of flat_out: the clock waits for each step, and the step
# need not wait for the notes to get through a MIDI driver.
FLAT_OUT = EngineSettings(max_wait_s=10.0, quiet_share=0.0, late_step=False)


class FakePort:
    """An output port (ports.OutputPort's methods) that keeps what it is sent; ``broken``: it raises as a
    port that went away."""

    name = "fake"

    def __init__(self):
        self.sent = []
        self.broken = False
        self.closed = False

    def send(self, msg):
        if self.broken:
            raise OSError("port gone")
        self.sent.append(msg)

    def port_names(self):
        return [] if self.broken else [self.name]

    def reopen(self):
        self.broken = False

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hanging_notes(msgs):
    """Notes switched on and never off (note_on/note_off pairs per (channel, note))."""
    on = {}
    for m in msgs:
        if m.type == "note_on" and m.velocity > 0:
            on[(m.channel, m.note)] = on.get((m.channel, m.note), 0) + 1
        elif m.type in ("note_off", "note_on"):
            if on.get((m.channel, m.note)):
                on[(m.channel, m.note)] -= 1
    return {k: v for k, v in on.items() if v}


def flat_engine(cell, port, controls=None, recorder=None, prime=None, **settings) -> Engine:
    """An opened Engine with the settings of FLAT_OUT (and any others given), for flat_out."""
    return Engine(cell, port, controls, dataclasses.replace(FLAT_OUT, **settings),
                  recorder=recorder, prime=prime).open()


def flat_out(engine, sixteenths, bpm=120.0, start=True):
    """A fake clock running flat out: pulses with the times a real clock at bpm would have."""
    assert engine.settings.max_wait_s >= FLAT_OUT.max_wait_s, "flat_out needs an engine made by flat_engine"
    dt = 60.0 / (bpm * 24)
    t = 0.0
    if start:
        engine.start(0, t)
    for _ in range(sixteenths * 6):
        engine.pulse(t, t + dt)
        t += dt
    return t


class CountingCell:
    """Wraps a Cell and records the step index and the notes it was fed."""

    def __init__(self, cell):
        self.cell = cell
        self.state_size = cell.state_size
        self.steps, self.fed = [], []

        self.listens = getattr(cell, "listens", False)
        self.chords = getattr(cell, "chords", False)
        self.heard, self.meters = [], []  # what a listening cell was given of the player, and the meter
        self.chord_inputs = []  # the chord a cell that knows chords was given
        self.played = []  # the notes each step chose
        self.biases = []  # the play bias of each step

    @property
    def plan(self):
        return self.cell.plan

    def __call__(self, notes, step, *rest):
        self.steps.append(int(step))
        self.fed.append(np.array(notes))
        self.biases.append(np.array(rest[4]))
        if len(rest) >= 7:
            self.heard.append(np.array(rest[5]))
            self.meters.append(tuple(int(x) for x in rest[6]))
        if len(rest) == 8:
            self.chord_inputs.append(np.array(rest[7]))
        out = self.cell(notes, step, *rest)
        self.played.append(np.array(out[0]))
        return out
