"""What sounds at the port, per note and channel, and the note-offs and note-ons that change it."""

from __future__ import annotations

import mido
import numpy as np

from ..music.representation import LOW_NOTE, N_NOTES


class SoundingNotes:
    """The notes sounding at the port, as the messages actually sent left them."""

    def __init__(self):
        self.on = np.zeros(N_NOTES, bool)  # (78,)
        self.channel = np.zeros(N_NOTES, np.int64)  # (78,) the channel each sounding note was struck on

    def changes(self, notes: np.ndarray, velocities: np.ndarray, channel: int,
                split: tuple[int, int, int] | None = None) -> list:
        """The messages that turn what sounds into ``notes`` (78, 2) [play, articulate]: a note re-struck or
        stopped is released first, a held note carries on; ``velocities`` (78,) for the note-ons.

        ``split`` (bass, top, rest channels): a note struck as the lowest of the notes that then sound goes
        to the bass channel, as the highest to the top one, the others to the rest; a held note stays on
        the channel it was struck on until its note-off. Without it every note-on goes to ``channel``."""
        play = notes[:, 0] > 0.5
        strike = play & (notes[:, 1] > 0.5)
        offs = np.flatnonzero(self.on & (~play | strike))
        ons = np.flatnonzero(play & (strike | ~self.on))
        msgs = [mido.Message("note_off", channel=int(self.channel[n]), note=int(n) + LOW_NOTE) for n in offs]
        if split is not None and len(ons):
            sounding = np.flatnonzero(play)
            low, high = sounding[0], sounding[-1]
        for n in ons:
            ch = channel if split is None else split[0] if n == low else split[1] if n == high else split[2]
            msgs.append(mido.Message("note_on", channel=ch, note=int(n) + LOW_NOTE, velocity=int(velocities[n])))
        return msgs

    def sent(self, msg) -> None:
        """A note message went to the port."""
        n = msg.note - LOW_NOTE
        if msg.type == "note_on":
            self.on[n] = True
            self.channel[n] = msg.channel
        else:
            self.on[n] = False

    def releases(self) -> list:
        """A note-off for every sounding note."""
        return [mido.Message("note_off", channel=int(self.channel[n]), note=int(n) + LOW_NOTE)
                for n in np.flatnonzero(self.on)]

    def channels(self) -> set[int]:
        """The channels that sounding notes were struck on."""
        return set(self.channel[self.on].tolist())
