"""The engine's settings: fixed for a performance, saved nowhere, given to the Engine when it is made."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineSettings:
    # Shift every 16th against its tick, in seconds; negative = early (like a DAW's per-device sync delay).
    offset_s: float = 0.0
    # Send each 16th at the tick the clock predicts, or on the tick if that comes first. Right for a clock
    # that predicts its ticks well (the MIDI clock follower's DLL): the notes do not wait for the tick to
    # come through the MIDI driver. A negative offset sends early too.
    send_early: bool = False
    # JACK at small periods carries only ~8 MIDI events per period (a 128-byte port buffer at 32 frames)
    # and drops the rest: a larger burst goes out burst_limit messages at a time, burst_gap_s apart.
    burst_limit: int = 0
    burst_gap_s: float = 0.0007
    # The step is a few ms of computation; started right on the tick, it delayed the notes just sent in
    # the MIDI driver (on JACK at 32-frame periods, by up to 4 ms: bench/bench_timing.py). So it starts
    # this share of a 16th after the tick, which still leaves most of the 16th for it.
    quiet_share: float = 0.25
    # How long the clock's thread may wait for a step that is not ready on its tick. Live, the worker
    # has a whole 16th; waiting here would stall the MIDI driver's thread, so a step not ready within
    # 2 ms is skipped (what sounds is held). A clock that runs flat out (tests) sets this high.
    max_wait_s: float = 0.002
    seed: int = 0  # the sampling noise's seed
    # Parts to channels (0-based): the lowest voice, the highest, the ones between (notes.SoundingNotes.changes);
    # None: every note on the console's channel.
    split: tuple[int, int, int] | None = None
    # The meter: [16ths per bar, 16ths per beat] (4/4: 16, 4; 6/8: 12, 6). A model that listens hears it;
    # bars are counted in it.
    meter: tuple[int, int] = (16, 4)
    # A model that listens computes each 16th late: its step starts margin_s + 2 x the step's p99 before
    # the tick, so what the player strikes until then is heard in the very 16th it plays with. A clock
    # that runs flat out (tests) turns this off: its pulses do not keep real time.
    late_step: bool = True
    margin_s: float = 0.004
    # The chord track: notes on this channel (0-based) of the input port are the chord to follow, not the
    # player's part (steering/harmony.py); None: every note is the player's.
    chord_channel: int | None = None

    @property
    def early(self) -> bool:
        """Whether 16ths go out at their predicted tick (from the sender thread) instead of on the pulse."""
        return self.offset_s < 0 or (self.send_early and self.offset_s == 0)

    @property
    def needs_sender(self) -> bool:
        return bool(self.offset_s or self.burst_limit or self.early)
