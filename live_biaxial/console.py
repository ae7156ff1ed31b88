"""The live console: a Textual app to steer the improviser while it plays.

The engine runs on its own threads (clock, model worker, MIDI callbacks); the app only reads
its state on a timer and writes controls, so a redraw can never delay a note.
"""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from .controls import NOTE_NAMES, SCALES
from .representation import LOW_NOTE, N_NOTES

SHADES = " ▁▂▃▄▅▆▇█"
ROLL_STEPS = 64  # 4 bars of 16ths
ROLL_LOW, ROLL_HIGH = 36, 96  # the piano roll shows MIDI 36..95, two notes per row


def prob_strip(probs: np.ndarray) -> str:
    """One character per note: the current P(play) as a bar height."""
    idx = np.clip((probs * (len(SHADES) - 1)).round().astype(int), 0, len(SHADES) - 1)
    return "".join(SHADES[i] for i in idx)


def piano_roll(history, rows: int = (ROLL_HIGH - ROLL_LOW) // 2, steps: int = ROLL_STEPS) -> str:
    """Rich markup: generated notes in cyan, the human's in magenta; newest 16th on the right."""
    recent = list(history)[-steps:]
    lines = []
    for r in range(rows - 1, -1, -1):
        lo = ROLL_LOW - LOW_NOTE + 2 * r
        cells = []
        for _, model, human in recent:
            if human[lo : lo + 2].any():
                cells.append("[magenta]█[/]")
            elif model[lo : lo + 2].any():
                cells.append("[cyan]█[/]")
            else:
                cells.append("[grey23]·[/]")
        name = NOTE_NAMES[(ROLL_LOW + 2 * r) % 12] + str((ROLL_LOW + 2 * r) // 12 - 1)
        lines.append(f"{name:>4} " + "".join(cells).rjust(steps))
    return "\n".join(lines)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "close")]

    def compose(self) -> ComposeResult:
        rows = [f"  {b.key:>12}  {b.description}" for b in Console.BINDINGS if b.description]
        yield Static("[b]live-biaxial keys[/b]\n\n" + "\n".join(rows) + "\n\n  Esc closes this help.", id="help")


class Console(App):
    CSS = """
    Screen { layout: vertical; }
    #status, #controls, #stats { height: auto; padding: 0 1; }
    #roll { height: auto; padding: 0 1; }
    #probs { height: 1; padding: 0 1; color: $accent; }
    #buttons { height: 3; }
    #buttons Button { min-width: 6; margin: 0 1 0 0; }
    HelpScreen { align: center middle; }
    #help { width: 60; height: auto; border: round $accent; background: $panel; padding: 1; }
    """
    BINDINGS = [
        Binding("space", "transport", "play/stop"),
        Binding("plus,equals_sign", "tempo(2)", "tempo +"),
        Binding("minus", "tempo(-2)", "tempo -"),
        Binding("a", "anti_silence(0.1)", "anti-silence +"),
        Binding("z", "anti_silence(-0.1)", "anti-silence -"),
        Binding("t", "temperature(0.1)", "temperature +"),
        Binding("g", "temperature(-0.1)", "temperature -"),
        Binding("v", "velocity(8)", "velocity +"),
        Binding("b", "velocity(-8)", "velocity -"),
        Binding("c", "channel", "channel"),
        Binding("k", "key", "key root"),
        Binding("s", "scale", "scale"),
        Binding("right_square_bracket", "range(1)", "range up"),
        Binding("left_square_bracket", "range(-1)", "range down"),
        Binding("p", "panic", "panic"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, engine, clock=None, follower=None, ports: str = "", refresh_hz: float = 15.0):
        super().__init__()
        self.engine, self.clock, self.follower = engine, clock, follower
        self.ports = ports
        self.refresh_hz = refresh_hz

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield Static(id="controls")
        yield Static(id="roll")
        yield Static(id="probs")
        yield Static(id="stats")
        with Horizontal(id="buttons"):
            for label, action in (("▶/■", "transport"), ("BPM-", "tempo_down"), ("BPM+", "tempo_up"),
                                  ("AS-", "as_down"), ("AS+", "as_up"), ("T-", "t_down"), ("T+", "t_up"),
                                  ("Key", "key"), ("Scale", "scale"), ("Panic", "panic")):
                yield Button(label, id=f"btn_{action}", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        # references, not queries: App.query_one searches the screen on top (the help screen too)
        self.views = {name: self.query_one(f"#{name}", Static) for name in ("status", "controls", "roll", "probs", "stats")}
        self.refresh_view()
        self.set_interval(1.0 / self.refresh_hz, self.refresh_view)

    # ---- what the musician sees ----------------------------------------------------------
    def refresh_view(self) -> None:
        e, c = self.engine, self.engine.controls
        s16 = max(e.sixteenth - 1, 0)
        position = f"{s16 // 16 + 1}:{s16 // 4 % 4 + 1}:{s16 % 4 + 1}"
        if self.follower is not None:
            bpm = self.follower.bpm
            health = "no clock" if self.follower.dropped or bpm is None else "locked"
            clock = f"MIDI clock ({health}) {bpm:.1f} BPM" if bpm else f"MIDI clock ({health})"
        else:
            clock = f"internal {self.clock.bpm:.0f} BPM" if self.clock else "internal"
        state = "playing" if e.playing else "stopped"
        self.views["status"].update(
            f"[b]{position}[/b]  {state}  clock: {clock}  {self.ports}" + ("  [red]PORT LOST[/]" if e.port_lost else ""))
        lo, hi = c.low, c.high
        self.views["controls"].update(
            f"anti-silence {c.anti_silence:.2f}  temperature {c.temperature:.2f}  velocity {c.velocity}  "
            f"channel {c.channel + 1}  key {c.key_name()}  range {lo}..{hi}  density {c.density:+.1f}")
        self.views["roll"].update(piano_roll(e.history))
        self.views["probs"].update(prob_strip(e.probs[:, 0]))
        p50, p99 = e.latency()
        self.views["stats"].update(
            f"step p50 {p50:.2f} ms  p99 {p99:.2f} ms  late steps {e.late}  notes {e.sent_notes}")

    # ---- what the musician does -------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = event.button.id.removeprefix("btn_")
        moves = {"tempo_down": ("tempo", -2), "tempo_up": ("tempo", 2), "as_down": ("anti_silence", -0.1),
                 "as_up": ("anti_silence", 0.1), "t_down": ("temperature", -0.1), "t_up": ("temperature", 0.1)}
        if action in moves:
            name, arg = moves[action]
            getattr(self, f"action_{name}")(arg)
        else:
            getattr(self, f"action_{action}")()

    def action_transport(self) -> None:
        if self.clock is None:
            self.notify("the DAW's transport drives an external clock")
            return
        if self.engine.playing:
            self.clock.stop()
        else:
            self.clock.restart()
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
        self._nudge(anti_silence=self.engine.controls.anti_silence + d)

    def action_temperature(self, d: float) -> None:
        self._nudge(temperature=round(self.engine.controls.temperature + d, 3))

    def action_velocity(self, d: int) -> None:
        self._nudge(velocity=self.engine.controls.velocity + d)

    def action_channel(self) -> None:
        self._nudge(channel=(self.engine.controls.channel + 1) % 16)

    def action_key(self) -> None:
        self._nudge(key_root=(self.engine.controls.key_root + 1) % 12)

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
        self.push_screen(HelpScreen())
