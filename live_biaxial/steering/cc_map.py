"""Which knob moves which control: MIDI CC (and channel) -> control, learnt in the console, kept in a file.

The default map is CC 20-24 on any channel (anti-silence, temperature, velocity, density, harmony). MIDI learn
binds a control to the next CC that arrives (on that CC's channel), replacing that control's binding and
any other control's binding of the same knob. The map lives in the platform's config folder
(``default_path()``, e.g. ~/.config/live-biaxial/cc-map.json) or in a file given with ``--cc-map``, as JSON:

    {"format": "live-biaxial-cc-map/1", "controls": {"temperature": {"cc": 74, "channel": 5}, ...}}

with channels as musicians count them (1..16; null: any channel).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import LiveBiaxialError
from .controls import CC_ANTI_SILENCE, CC_DENSITY, CC_HARMONY, CC_TEMPERATURE, CC_VELOCITY, KNOBS

FORMAT = "live-biaxial-cc-map/1"
DEFAULT: dict[str, tuple[int | None, int]] = {  # control -> (channel 0..15 or None for any, CC number)
    "anti_silence": (None, CC_ANTI_SILENCE), "temperature": (None, CC_TEMPERATURE), "velocity": (None, CC_VELOCITY),
    "density": (None, CC_DENSITY), "harmony": (None, CC_HARMONY),
}


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("live-biaxial")) / "cc-map.json"


class CCMap:
    """control -> (channel or None, cc), with the reverse lookup the MIDI input thread uses."""

    def __init__(self, bindings: dict[str, tuple[int | None, int]] | None = None, path: Path | None = None):
        self.bindings = dict(DEFAULT if bindings is None else bindings)
        self.path = path  # saved here after each learnt binding; None: not saved
        self.learning: str | None = None  # the control waiting for a knob
        self.learnt: tuple[str, int, int] | None = None  # the last binding learnt: (control, channel, cc)
        self.save_error: str | None = None
        self._index()

    def _index(self) -> None:
        self._lookup = {(ch, cc): name for name, (ch, cc) in self.bindings.items()}  # swapped in whole

    def control_for(self, channel: int, cc: int) -> str | None:
        lookup = self._lookup
        return lookup.get((channel, cc)) or lookup.get((None, cc))

    def handle(self, controls, channel: int, cc: int, value: int) -> bool:
        """A CC from the input port: learnt if a control is waiting for one, else applied if mapped.
        True if it was one of ours."""
        if self.learning is not None:
            self.learn(self.learning, channel, cc)
            return True
        name = self.control_for(channel, cc)
        if name is None:
            return False
        controls.from_knob(name, value)
        return True

    def learn(self, control: str, channel: int, cc: int) -> None:
        if control not in KNOBS:
            raise LiveBiaxialError(f"MIDI learn: {control!r} is not a control a knob can move ({', '.join(KNOBS)})")
        bindings = {n: b for n, b in self.bindings.items() if n != control and not _same_knob(b, (channel, cc))}
        bindings[control] = (channel, cc)
        self.bindings = bindings  # swapped in whole, as the lookup is: a reader sees the old map or the new
        self._index()
        self.learning = None
        self.learnt = (control, channel, cc)
        self.save()

    def save(self) -> None:
        """Write the map to its file (a failure is kept in save_error and shown; the binding still holds)."""
        if self.path is None:
            return
        data = {"format": FORMAT, "controls": {n: {"cc": cc, "channel": None if ch is None else ch + 1}
                                               for n, (ch, cc) in self.bindings.items()}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, self.path)
            self.save_error = None
        except OSError as err:
            self.save_error = f"{self.path}: cannot save the CC map ({err.strerror})"

    def lines(self) -> list[str]:
        """The map as the console lists it: 'temperature  CC 74 channel 5'."""
        out = []
        for name in KNOBS:
            if name in self.bindings:
                ch, cc = self.bindings[name]
                out.append(f"{name.replace('_', '-'):<13} CC {cc:3d} {'any channel' if ch is None else f'channel {ch + 1}'}")
            else:
                out.append(f"{name.replace('_', '-'):<13} -")
        return out

    @classmethod
    def load(cls, path: Path) -> CCMap:
        """The map in ``path``; the default map (saved there once something is learnt) if there is no file yet."""
        path = Path(path)
        if not path.exists():
            return cls(path=path)
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            bindings = {}
            for name, b in data["controls"].items():
                if name not in KNOBS:
                    raise ValueError(f"unknown control {name!r} (the controls: {', '.join(KNOBS)})")
                cc, ch = int(b["cc"]), b.get("channel")
                if not 0 <= cc <= 127 or not (ch is None or 1 <= int(ch) <= 16):
                    raise ValueError(f"{name}: CC {cc} channel {ch} (CCs are 0..127, channels 1..16 or null)")
                bindings[name] = (None if ch is None else int(ch) - 1, cc)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise LiveBiaxialError(f"{path}: not a usable CC map ({err}); fix or delete it") from err
        return cls(bindings, path=path)


def _same_knob(a: tuple[int | None, int], b: tuple[int | None, int]) -> bool:
    """Would a CC on b's channel reach a as well?"""
    return a[1] == b[1] and (a[0] is None or b[0] is None or a[0] == b[0])
