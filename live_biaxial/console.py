"""The live console: a Textual app to steer the improviser while it plays.

The engine runs on its own threads (clock, model worker, MIDI callbacks); the app only reads
its state on a timer and writes controls, so a redraw can never delay a note.
"""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll

from rich.segment import Segment
from rich.style import Style
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Button, Footer, Static

from .steering.controls import KNOBS, NOTE_NAMES, SCALES
from .music.representation import LOW_NOTE, N_NOTES

SHADES = " ▁▂▃▄▅▆▇█"
ROLL_STEPS = 64  # 4 bars of 16ths
ROLL_LOW = 48  # the piano roll's lowest row (C3) until notes call for another window


def prob_strip(probs: np.ndarray) -> str:
    """One character per note: the current P(play) as a bar height."""
    idx = np.clip((probs * (len(SHADES) - 1)).round().astype(int), 0, len(SHADES) - 1)
    return "".join(SHADES[i] for i in idx)


def roll_grid(history, rows: int, steps: int = ROLL_STEPS, low: int = ROLL_LOW) -> np.ndarray:
    """The last ``steps`` 16ths as a (rows, steps) int8 grid, one semitone a row from MIDI ``low`` up, top row
    highest: 0 silent, 1 the model's notes, 2 the human's (human drawn over model)."""
    grid = np.zeros((rows, steps), np.int8)
    recent = list(history)[-steps:]
    if not recent:
        return grid
    lo = low - LOW_NOTE
    model = np.stack([m for _, m, _ in recent])[:, lo : lo + rows]  # (S, rows)
    human = np.stack([h for _, _, h in recent])[:, lo : lo + rows]
    cells = np.where(human, 2, np.where(model, 1, 0)).astype(np.int8)
    grid[: cells.shape[1], steps - len(recent) :] = cells.T
    return grid[::-1]


def roll_window(history, rows: int, low: int) -> int:
    """The lowest MIDI note of a ``rows``-high roll: ``low`` while the last 16ths' notes fit in it, else the
    window centred on them (within the model's range)."""
    recent = list(history)[-ROLL_STEPS:]
    sounding = np.flatnonzero(np.any([m | h for _, m, h in recent], axis=0)) + LOW_NOTE if recent else []
    top = LOW_NOTE + N_NOTES - rows
    if len(sounding) and not (low <= sounding.min() and sounding.max() < low + rows):
        low = (int(sounding.min()) + int(sounding.max()) + 1 - rows) // 2
    return int(np.clip(low, LOW_NOTE, max(top, LOW_NOTE)))


class PianoRoll(Widget):
    """The scrolling piano roll, one semitone a row, as many rows as the terminal leaves it (the window follows
    the notes); drawn line by line from run-length segments (cheap to redraw: a 30 x 64 roll in markup cost the
    UI thread a whole core)."""

    DEFAULT_CSS = f"PianoRoll {{ height: 1fr; min-height: 3; width: {ROLL_STEPS + 7}; }}"  # label 5 + roll + 2
    STYLES = (Style(color="grey23"), Style(color="cyan"), Style(color="magenta"))
    LABEL_STYLES = (Style(), Style(bold=True))  # the Cs stand out
    CHARS = ("·", "█", "█")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.grid = np.zeros((0, ROLL_STEPS), np.int8)
        self.low = ROLL_LOW

    def show(self, history) -> None:
        rows = self.size.height
        self.low = roll_window(history, rows, self.low)
        grid = roll_grid(history, rows, ROLL_STEPS, self.low)
        if not np.array_equal(grid, self.grid):
            self.grid = grid
            self.refresh()

    def on_resize(self) -> None:
        self.grid = np.zeros((0, ROLL_STEPS), np.int8)  # redrawn at the next 16th, to the new height

    def label(self, y: int) -> Segment:
        midi = self.low + len(self.grid) - 1 - y
        return Segment(f"{NOTE_NAMES[midi % 12] + str(midi // 12 - 1):>4} ", self.LABEL_STYLES[midi % 12 == 0])

    def render_line(self, y: int) -> Strip:
        if y >= len(self.grid):
            return Strip.blank(self.size.width)
        row = self.grid[y]
        segments = [self.label(y)]
        edges = np.flatnonzero(np.diff(row)) + 1
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(row)]):
            code = int(row[a])
            segments.append(Segment(self.CHARS[code] * int(b - a), self.STYLES[code]))
        return Strip(segments)


def harmony_line(engine, sixteenth: int) -> str:
    """'chord Am (chart)  next F  harmony 0.50': the chord the model follows now, where it comes from, the next."""
    h = engine.harmony
    now = f"[b]{h.chord.name}[/b] ({h.source})" if h.chord is not None else "none" + (f" ({h.source})" if h.source else "")
    bar = engine.bar_steps
    upcoming = h.upcoming(*divmod(sixteenth, bar), bar)
    following = f"  next {upcoming.name}" if upcoming is not None else ""
    return f"chord {now}{following}  harmony {engine.controls.harmony:.2f}"


KEY_LABELS = {"space": "Space", "plus": "+", "equals_sign": "=", "minus": "-", "question_mark": "?",
              "left_square_bracket": "[", "right_square_bracket": "]"}


def key_label(keys: str) -> str:
    """'plus,equals_sign' -> '+ ='"""
    return " ".join(KEY_LABELS.get(k, k) for k in keys.split(","))


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "close")]

    def __init__(self, cc_map=None):
        super().__init__()
        self.cc_map = cc_map

    def compose(self) -> ComposeResult:
        rows = [f"  {key_label(b.key):>8}  {b.description}".replace("[", "\\[") for b in Console.BINDINGS
                if b.description]  # the [ key's label, not markup
        knobs = ["", "[b]knobs[/b] (MIDI CC on the --input port; l to learn others)"] + \
            [f"  {line}" for line in self.cc_map.lines()] if self.cc_map else []
        notes = ["", "  late steps: 16ths not ready on their tick (what sounded", "  before was held)."]
        with VerticalScroll(id="help"):  # taller than a small terminal: it scrolls
            yield Static("[b]live-biaxial keys[/b]\n\n" + "\n".join(rows + knobs + notes) + "\n\n  Esc closes this help.")


class LearnScreen(ModalScreen):
    """MIDI learn: pick a control by its number, move a knob on the --input port; the map is listed and saved."""

    BINDINGS = [Binding("escape,q,l", "close", "close")] + [Binding(str(i + 1), f"pick({i})", show=False)
                                                           for i in range(len(KNOBS))]

    def __init__(self, cc_map):
        super().__init__()
        self.cc_map = cc_map
        self.seen = cc_map.learnt

    def compose(self) -> ComposeResult:
        yield Static(self._text(), id="learn")

    def on_mount(self) -> None:
        self.set_interval(0.1, self._check)

    def _text(self, note: str = "") -> str:
        rows = [f"  {i + 1}  {line}" for i, line in enumerate(self.cc_map.lines())]
        where = f"saved to {self.cc_map.path}" if self.cc_map.path else "not saved"
        waiting = self.cc_map.learning
        prompt = (f"[b]move a knob for {waiting.replace('_', '-')}[/b] on the --input port" if waiting else
                  "press a control's number, then move a knob on the --input port")
        return ("[b]MIDI learn[/b]\n\n" + "\n".join(rows) + f"\n\n  {prompt}\n  {note or where}\n\n  Esc closes.")

    def action_pick(self, i: int) -> None:
        self.cc_map.learning = list(KNOBS)[i]
        self.query_one("#learn", Static).update(self._text())

    def _check(self) -> None:
        if self.cc_map.learnt != self.seen:
            self.seen = self.cc_map.learnt
            name, ch, cc = self.seen
            error = self.cc_map.save_error
            note = f"[red]{error}[/]" if error else f"[green]{name.replace('_', '-')}: CC {cc} channel {ch + 1}, saved[/]"
            self.query_one("#learn", Static).update(self._text(note))

    def action_close(self) -> None:
        self.cc_map.learning = None
        self.app.pop_screen()


class Console(App):
    CSS = """
    Screen { layout: vertical; }
    #status, #controls, #harmony, #stats, #probs { height: 1; padding: 0 1; }
    #probs { color: $accent; }
    #roll { padding: 0 1; }
    #buttons { height: 3; }
    #buttons Button { min-width: 6; margin: 0 1 0 0; }
    HelpScreen, LearnScreen { align: center middle; }
    #help, #learn { width: 64; height: auto; max-height: 100%; border: round $accent; background: $panel; padding: 1; }
    """
    # the footer shows the keys a musician needs first; `?` lists them all, the buttons hold the others
    BINDINGS = [
        Binding("space", "transport", "play/stop"),
        Binding("plus,equals_sign", "tempo(2)", "tempo +", show=False),
        Binding("minus", "tempo(-2)", "tempo -", show=False),
        Binding("a", "anti_silence(0.1)", "anti-silence +", show=False),
        Binding("z", "anti_silence(-0.1)", "anti-silence -", show=False),
        Binding("t", "temperature(0.1)", "temperature +", show=False),
        Binding("g", "temperature(-0.1)", "temperature -", show=False),
        Binding("h", "harmony(0.1)", "harmony + (keep to the chord)", show=False),
        Binding("n", "harmony(-0.1)", "harmony - (as the model likes)", show=False),
        Binding("v", "velocity(8)", "velocity +", show=False),
        Binding("b", "velocity(-8)", "velocity -", show=False),
        Binding("c", "channel", "channel", show=False),
        Binding("k", "key", "key root", show=False),
        Binding("s", "scale", "scale", show=False),
        Binding("right_square_bracket", "range(1)", "range up", show=False),
        Binding("left_square_bracket", "range(-1)", "range down", show=False),
        Binding("p", "panic", "panic"),
        Binding("l", "learn", "MIDI learn"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, engine, clock=None, follower=None, ports: str = "", inputs=(), refresh_hz: float = 15.0):
        super().__init__()
        self.engine, self.clock, self.follower = engine, clock, follower
        self.ports = ports
        self.inputs = tuple(inputs)  # input ports that count messages their callback failed on (PolledInput)
        self.refresh_hz = refresh_hz

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield Static(id="controls")
        yield Static(id="harmony")
        yield PianoRoll(id="roll")
        yield Static(id="probs")
        yield Static(id="stats")
        with Horizontal(id="buttons"):
            for label, action in (("▶/■", "transport"), ("BPM-", "tempo_down"), ("BPM+", "tempo_up"),
                                  ("AS-", "as_down"), ("AS+", "as_up"), ("T-", "t_down"), ("T+", "t_up"),
                                  ("H-", "h_down"), ("H+", "h_up"), ("Panic", "panic")):
                yield Button(label, id=f"btn_{action}", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        # references, not queries: App.query_one searches the screen on top (the help screen too)
        self.views = {name: self.query_one(f"#{name}", Static) for name in ("status", "controls", "harmony", "probs", "stats")}
        self.roll = self.query_one(PianoRoll)
        self.shown: dict[str, str] = {}
        self.roll_at: tuple[int, int] | None = None
        self.refresh_view()
        self.set_interval(1.0 / self.refresh_hz, self.refresh_view)

    # ---- what the musician sees ----------------------------------------------------------
    def refresh_view(self) -> None:
        e, c = self.engine, self.engine.controls
        s16 = max(e.sixteenth - 1, 0)
        bar, beat = int(e.meter[0]), int(e.meter[1])
        position = f"{s16 // bar + 1}:{s16 % bar // beat + 1}:{s16 % beat + 1}"
        if self.follower is not None:
            bpm = self.follower.bpm
            health = self.follower.status or ("no clock" if self.follower.dropped or bpm is None else "locked")
            clock = f"MIDI clock ({health}) {bpm:.1f} BPM" if bpm else f"MIDI clock ({health})"
        else:  # the clock says what it is (internal: its tempo; Link: the session's tempo, peers, bar)
            clock = self.clock.label() if self.clock else "internal"
        state = "playing" if e.playing else "stopped"
        failed = sum(getattr(p, "failures", 0) for p in self.inputs)  # the input thread goes on past each
        dropped = [p for p in self.inputs if getattr(p, "dropped", 0)]  # bytes that were no MIDI message
        self._show("status",
            f"[b]{position}[/b]  {state}  clock: {clock}  {self.ports}" + ("  [red]PORT LOST[/]" if e.port_lost else "")
            + (f"  [yellow]{failed} input messages failed[/]" if failed else "")
            + (f"  [yellow]{sum(p.dropped for p in dropped)} bad MIDI dropped (first: {dropped[0].first_dropped})[/]"
               if dropped else ""))
        lo, hi = c.low, c.high
        split = getattr(getattr(e, "settings", None), "split", None)  # parts to channels: bass, top, rest
        channels = f"ch {c.channel + 1}" if split is None else \
            f"ch bass {split[0] + 1} top {split[1] + 1} rest {split[2] + 1}"
        self._show("controls",
            f"anti-silence {c.anti_silence:.2f}  temp {c.temperature:.2f}  vel {c.velocity}  {channels}  "
            f"range {lo}-{hi}  density {c.density:+.1f}")
        self._show("harmony", harmony_line(e, s16 + 1) + f"  key {c.key_name()}")
        newest = (len(e.history), e.history[-1][0], self.roll.size.height) if e.history else (0, -1, 0)
        if newest != self.roll_at:  # a new 16th (or a restart, or a resize): only then is there a new roll to draw
            self.roll_at = newest
            self.roll.show(e.history)
        self._show("probs", prob_strip(e.probs[:, 0]))
        p50, p99 = e.latency()
        self._show("stats", 
            f"step p50 {p50:.2f} ms  p99 {p99:.2f} ms  late steps {e.late}  notes {e.sent_notes}")

    def _show(self, name: str, text: str) -> None:
        """Update a view only when its text changed: every update costs a redraw."""
        if self.shown.get(name) != text:
            self.shown[name] = text
            self.views[name].update(text)

    # ---- what the musician does -------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = event.button.id.removeprefix("btn_")
        moves = {"tempo_down": ("tempo", -2), "tempo_up": ("tempo", 2), "as_down": ("anti_silence", -0.1),
                 "as_up": ("anti_silence", 0.1), "t_down": ("temperature", -0.1), "t_up": ("temperature", 0.1),
                 "h_down": ("harmony", -0.1), "h_up": ("harmony", 0.1)}
        if action in moves:
            name, arg = moves[action]
            getattr(self, f"action_{name}")(arg)
        else:
            getattr(self, f"action_{action}")()

    def action_transport(self) -> None:
        if self.clock is None:
            self.notify("the DAW's transport drives an external clock")
            return
        self.clock.transport(not self.engine.playing)
        self.refresh_view()

    def action_tempo(self, delta: float) -> None:
        if self.clock is None:
            self.notify("tempo follows the DAW's clock")
            return
        self.clock.set_bpm(self.clock.bpm + delta)
        self.refresh_view()

    def _nudge(self, **change) -> None:
        self.engine.controls.update(**change)
        self.refresh_view()

    def action_anti_silence(self, d: float) -> None:
        before = self.engine.controls.anti_silence
        self._nudge(anti_silence=before + d)
        if self.engine.controls.anti_silence == before:
            self.notify(f"anti-silence is at its {'maximum' if d > 0 else 'minimum'} ({before:g})")

    def action_temperature(self, d: float) -> None:
        self._nudge(temperature=round(self.engine.controls.temperature + d, 3))

    def action_harmony(self, d: float) -> None:
        self._nudge(harmony=round(self.engine.controls.harmony + d, 3))

    def action_velocity(self, d: int) -> None:
        self._nudge(velocity=self.engine.controls.velocity + d)

    def action_channel(self) -> None:
        self._nudge(channel=(self.engine.controls.channel + 1) % 16)

    def action_key(self) -> None:
        self._nudge(key_root=(self.engine.controls.key_root + 1) % 12)
        if self.engine.controls.scale == "chromatic":
            self.notify(f"key root {NOTE_NAMES[self.engine.controls.key_root]}: no scale is on (s picks one)")

    def action_scale(self) -> None:
        names = list(SCALES)
        self._nudge(scale=names[(names.index(self.engine.controls.scale) + 1) % len(names)])

    def action_range(self, d: int) -> None:
        c = self.engine.controls
        low = int(np.clip(c.low + 12 * d, LOW_NOTE, LOW_NOTE + N_NOTES - 13))
        self._nudge(low=low, high=min(low + 36, LOW_NOTE + N_NOTES - 1))

    def action_panic(self) -> None:
        self.engine.panic()
        self.notify("all notes off")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.engine.cc_map))

    def action_learn(self) -> None:
        self.push_screen(LearnScreen(self.engine.cc_map))
