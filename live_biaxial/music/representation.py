"""MIDI <-> note-state matrices.

A piece is a matrix of shape (steps, 78, 2), dtype uint8: for every step of the time grid
(``steps_per_beat`` steps per quarter note, 4 = 16ths) and every note of the window
MIDI 24..101, two bits: ``play`` (the note sounds) and ``articulate`` (it is struck at this
step rather than held). ``articulate`` implies ``play``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict, deque
from pathlib import Path

import mido
import numpy as np

from ..errors import BadMidiFile
from .meter import meter_steps

LOW_NOTE = 24  # MIDI number of note index 0
N_NOTES = 78  # the window: MIDI 24..101
HIGH_NOTE = LOW_NOTE + N_NOTES - 1
PITCH_CLASS = (np.arange(N_NOTES) + LOW_NOTE) % 12  # (78,) the pitch class of each note (0 = C)
PLAY, ARTIC = 0, 1
DRUM_CHANNEL = 9  # "channel 10" in musicians' numbering


@dataclasses.dataclass
class LoadReport:
    """What happened to a file's notes on the way into a matrix."""

    notes: int = 0  # notes kept
    dropped_out_of_window: int = 0
    dropped_drums: int = 0
    cut_at_step: int | None = None  # set when a time signature ended the piece early
    cut_reason: str = ""
    # the time signatures followed: (step, steps per bar, steps per beat) (music/meter.py); none = 4/4
    meters: list = dataclasses.field(default_factory=list)


def normalize(matrix: np.ndarray) -> np.ndarray:
    """Make a matrix valid: articulate implies play, and a note that starts sounding articulates.

    matrix: (T, 78, 2) -> (T, 78, 2) uint8
    """
    m = (np.asarray(matrix) > 0).astype(np.uint8)
    m[..., ARTIC] &= m[..., PLAY]
    prev_play = np.concatenate([np.zeros_like(m[:1, :, PLAY]), m[:-1, :, PLAY]], axis=0)
    m[..., ARTIC] |= m[..., PLAY] & (1 - prev_play)
    return m


def midi_to_matrix(
    source: str | Path | mido.MidiFile,
    steps_per_beat: int = 4,
    include_drums: bool = False,
    cut_time_signatures: bool = True,
) -> tuple[np.ndarray, LoadReport]:
    """Read a MIDI file into a note-state matrix (T, 78, 2) uint8 and a report.

    Its time signatures go into ``report.meters`` (music/meter.py: 2/4, 3/4, 4/4, 6/8, 9/8, 12/8, ...); one
    the grid of steps cannot count (e.g. 5/16 at quarter notes) ends the piece there, unless
    ``cut_time_signatures`` is False. Raises BadMidiFile if the file cannot be parsed or has no usable notes.
    """
    path = getattr(source, "filename", None) or str(source)
    midi = source if isinstance(source, mido.MidiFile) else read_midi_file(source)
    ticks_per_step = midi.ticks_per_beat / steps_per_beat
    report = LoadReport()

    # Walk all tracks merged in time order, pairing note-ons with note-offs first in, first out.
    open_notes: dict[tuple[int, int], deque[int]] = defaultdict(deque)  # (channel, pitch) -> start ticks
    spans: list[tuple[int, int, int]] = []  # (pitch, start tick, end tick)
    cut_tick = None
    tick = 0
    for msg in mido.merge_tracks(midi.tracks):
        tick += msg.time
        if msg.type == "time_signature":
            steps = meter_steps(msg.numerator, msg.denominator, steps_per_beat)
            if steps is None and cut_time_signatures:
                cut_tick = tick
                report.cut_reason = f"time signature {msg.numerator}/{msg.denominator}"
                break
            if steps is not None:
                step = int(round(tick / ticks_per_step))
                report.meters = [m for m in report.meters if m[0] != step] + [(step, *steps)]
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes[key].append(tick)
        elif open_notes[key]:
            spans.append((msg.note, msg.channel, open_notes[key].popleft(), tick))
    end_tick = tick if cut_tick is None else cut_tick
    for (channel, pitch), starts in open_notes.items():  # notes never released end with the piece
        spans.extend((pitch, channel, start, end_tick) for start in starts)

    kept = []
    for pitch, channel, start, end in spans:
        if channel == DRUM_CHANNEL and not include_drums:
            report.dropped_drums += 1
        elif not LOW_NOTE <= pitch <= HIGH_NOTE:
            report.dropped_out_of_window += 1
        else:
            s = int(round(start / ticks_per_step))
            e = max(int(round(end / ticks_per_step)), s + 1)  # a very short note keeps one step
            kept.append((pitch - LOW_NOTE, s, e))
    n_steps = int(round(end_tick / ticks_per_step))
    if cut_tick is not None:
        report.cut_at_step = n_steps
        kept = [(n, s, min(e, n_steps)) for n, s, e in kept if s < n_steps]
    if not kept:
        why = "no notes in the MIDI 24..101 window"
        if report.cut_reason:
            why += f" before its {report.cut_reason} (a meter not on the grid of {steps_per_beat} steps a beat)"
        raise BadMidiFile(path, why)

    n_steps = max(n_steps, max(e for _, _, e in kept))
    matrix = np.zeros((n_steps, N_NOTES, 2), dtype=np.uint8)
    for n, s, e in kept:
        matrix[s:e, n, PLAY] = 1
        matrix[s, n, ARTIC] = 1
    report.notes = len(kept)
    return matrix, report


def read_midi_file(path: str | Path) -> mido.MidiFile:
    """Open a MIDI file, turning every parser failure into one BadMidiFile line."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise BadMidiFile(path, "empty file")
        return mido.MidiFile(path)
    except BadMidiFile:
        raise
    except FileNotFoundError as err:
        raise BadMidiFile(path, "no such file") from err
    except IsADirectoryError as err:
        raise BadMidiFile(path, "is a folder, not a MIDI file") from err
    except EOFError as err:
        raise BadMidiFile(path, "truncated MIDI file (ends in the middle of a track)") from err
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise BadMidiFile(path, f"not a valid MIDI file ({err})") from err


def matrix_to_midi(
    matrix: np.ndarray,
    bpm: float = 120.0,
    steps_per_beat: int = 4,
    channel: int = 0,
    velocity: int | np.ndarray = 64,
    ticks_per_beat: int = 480,
    time_signature: tuple[int, int] = (4, 4),
) -> mido.MidiFile:
    """Write a note-state matrix (T, 78, 2) as a type 1 MIDI file (in one time signature).

    velocity: one number, or an array (T, 78) giving each note-on's velocity.
    A note-on where a note starts or re-articulates, a note-off where it stops.
    """
    m = normalize(matrix)
    ticks_per_step = ticks_per_beat // steps_per_beat
    vel = np.broadcast_to(np.asarray(velocity), m.shape[:2])
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=time_signature[0], denominator=time_signature[1], time=0))
    last_tick = 0
    prev = np.zeros(N_NOTES, dtype=np.uint8)
    for t in range(m.shape[0] + 1):
        play = m[t, :, PLAY] if t < m.shape[0] else np.zeros(N_NOTES, dtype=np.uint8)
        artic = m[t, :, ARTIC] if t < m.shape[0] else np.zeros(N_NOTES, dtype=np.uint8)
        offs = np.flatnonzero(prev & ((1 - play) | artic))
        ons = np.flatnonzero(play & artic)
        tick = t * ticks_per_step
        for n in offs:
            track.append(mido.Message("note_off", channel=channel, note=int(n) + LOW_NOTE, velocity=0, time=tick - last_tick))
            last_tick = tick
        for n in ons:
            v = int(np.clip(vel[t, n], 1, 127))
            track.append(mido.Message("note_on", channel=channel, note=int(n) + LOW_NOTE, velocity=v, time=tick - last_tick))
            last_tick = tick
        prev = play
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    return midi


def note_ons(midi: mido.MidiFile) -> int:
    """How many notes a MIDI file strikes (note-ons of velocity > 0, every track)."""
    return sum(1 for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0)


def pitches_to_matrix(steps: list[list[int]]) -> np.ndarray:
    """JSB-style steps (a list of sounding MIDI pitches per step) -> (T, 78, 2) uint8.

    These data do not tell a held note from a repeated one: a note articulates when it starts.
    """
    m = np.zeros((len(steps), N_NOTES, 2), dtype=np.uint8)
    for t, pitches in enumerate(steps):
        for p in pitches:
            if LOW_NOTE <= p <= HIGH_NOTE:
                m[t, int(p) - LOW_NOTE, PLAY] = 1
    return normalize(m)


def voices_to_matrix(steps: list[list[int]]) -> np.ndarray:
    """JSB 'separated' steps (one pitch per voice, -1 = silent) -> (T, 78, 2) uint8.

    A voice re-articulates when its pitch changes or it re-enters after a rest.
    """
    m = np.zeros((len(steps), N_NOTES, 2), dtype=np.uint8)
    prev = [-1] * (len(steps[0]) if steps else 0)
    for t, voices in enumerate(steps):
        for v, p in enumerate(voices):
            if p >= 0 and LOW_NOTE <= p <= HIGH_NOTE:
                n = int(p) - LOW_NOTE
                m[t, n, PLAY] = 1
                if prev[v] != p:
                    m[t, n, ARTIC] = 1
            prev[v] = p
    return normalize(m)
