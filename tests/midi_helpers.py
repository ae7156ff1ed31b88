"""Build small real MIDI files for tests."""

import mido


def midi_file(events, ticks_per_beat=480, type=1, tracks=None):
    """events: list of (tick, message) for one track, or pass tracks=[events, events, ...]."""
    midi = mido.MidiFile(type=type, ticks_per_beat=ticks_per_beat)
    for evs in tracks if tracks is not None else [events]:
        track = mido.MidiTrack()
        last = 0
        for tick, msg in sorted(evs, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - last))
            last = tick
        midi.tracks.append(track)
    return midi


def on(note, ch=0, vel=64):
    return mido.Message("note_on", note=note, channel=ch, velocity=vel)


def off(note, ch=0, zero_velocity=False):
    if zero_velocity:
        return mido.Message("note_on", note=note, channel=ch, velocity=0)
    return mido.Message("note_off", note=note, channel=ch)
