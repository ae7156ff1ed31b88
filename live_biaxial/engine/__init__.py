"""The live engine: plays one 16th note at a time on a clock's pulses and never leaves a note hanging.

    engine.py    Engine, the clock sink: on each 16th's pulse it sends the notes prepared for it,
                 then its worker thread steps the model for the next one (one step of lookahead)
    settings.py  EngineSettings: offset, sending early, burst limits, when the step runs
    notes.py     SoundingNotes: what sounds at the port, and the messages that change it
    sender.py    Sender: messages sent at a set time, or a few at a time, from a thread of its own
    recorder.py  Recorder: what was played and what the player played, to a MIDI file
"""

from .engine import Engine
from .recorder import Recorder
from .settings import EngineSettings

__all__ = ["Engine", "EngineSettings", "Recorder"]
