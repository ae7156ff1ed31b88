"""What was played (track 0) and the player's notes (track 1), timed by the wall clock, to a MIDI file;
every note-on in it has its note-off."""

from __future__ import annotations

import time

import mido


class Recorder:
    def __init__(self, path: str, bpm: float = 120.0):
        self.path = path
        self.bpm = bpm
        self.t0 = time.perf_counter()
        self.events: list[tuple[float, int, mido.Message]] = []

    def add(self, msg, track: int) -> None:
        self.events.append((time.perf_counter() - self.t0, track, msg))

    def save(self) -> None:
        tpb = 480
        tempo = mido.bpm2tempo(self.bpm)
        midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
        for track_no, name in ((0, "live-biaxial"), (1, "human")):
            track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
            if track_no == 0:
                track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
            last = 0
            sounding: dict[tuple[int, int], int] = {}  # (channel, note) -> note-ons not yet ended
            for t, tr, msg in self.events:
                if tr != track_no:
                    continue
                tick = int(round(mido.second2tick(t, tpb, tempo)))
                track.append(msg.copy(time=max(0, tick - last)))
                last = max(last, tick)
                if msg.type in ("note_on", "note_off"):
                    key = (msg.channel, msg.note)
                    if msg.type == "note_on" and msg.velocity > 0:
                        sounding[key] = sounding.get(key, 0) + 1
                    elif sounding.get(key):
                        sounding[key] -= 1
            # a note still held when the take ended (a key down at Ctrl-C) ends with the take
            for (channel, note), count in sorted(sounding.items()):
                for _ in range(count):
                    track.append(mido.Message("note_off", channel=channel, note=note, time=0))
            midi.tracks.append(track)
        midi.save(self.path)
