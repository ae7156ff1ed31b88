"""The real `live-biaxial play` with its console inside tmux, against the JACK test server: keys
sent with `tmux send-keys`, the screen read with `capture-pane`, the notes received by a fake DAW."""

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.fakes import hanging_notes

pytestmark = [pytest.mark.jack, pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


class Tmux:
    def __init__(self, name, command):
        self.sock = name
        self.run("new-session", "-d", "-s", "t", "-x", "130", "-y", "45", command)


    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=10)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t").stdout

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def wait_for(self, text, timeout=10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the screen after {timeout} s:\n{self.screen()}")

    def kill(self):
        self.run("kill-server")


def test_play_in_a_terminal_takes_keys_and_exits_clean(jack, tiny_model):
    from tests.daw import FakeDaw, wait_until

    daw = FakeDaw(jack, "tmuxsynth")
    play = [sys.executable, "-m", "live_biaxial", "play", "--api", "jack", "--model", str(tiny_model[1]),
            "--port", daw.in_name, "--bpm", "150", "--density", "-1.5"]
    command = (f"cd {shlex.quote(str(ROOT))} && env JACK_DEFAULT_SERVER={os.environ['JACK_DEFAULT_SERVER']} "
               f"{shlex.join(play)}; echo EXIT=$?; sleep 30")
    tmux = Tmux(f"lbtest{os.getpid()}", command)
    try:
        tmux.wait_for("playing  clock: internal 150 BPM")
        tmux.wait_for("late steps")
        tmux.keys("s")  # scale: chromatic -> major
        tmux.wait_for("key C major", timeout=2)
        tmux.keys("k")  # key root up
        tmux.wait_for("key C# major", timeout=2)
        tmux.keys("+")
        tmux.wait_for("internal 152 BPM", timeout=2)
        n = len(daw.received)
        tmux.keys("p")  # panic: CC 123 now
        wait_until(lambda: any(m.type == "control_change" and m.control == 123 for _, m in daw.received[n:]),
                   2, "panic sent no CC 123")
        time.sleep(1.0)
        assert len(daw.note_ons()) > 0  # it played
        tmux.keys("q")
        screen = tmux.wait_for("EXIT=0", timeout=10)
        assert "Traceback" not in screen
        assert "live-biaxial:" in screen and "16ths" in screen  # the summary, printed after the app left the screen
        time.sleep(0.3)
        assert not hanging_notes([m for _, m in daw.received])
    finally:
        tmux.kill()
        daw.close()


def test_a_crash_in_the_console_releases_every_note_and_restores_the_terminal(jack, tiny_model):
    from tests.daw import FakeDaw

    daw = FakeDaw(jack, "crashsynth")
    # the real `play`, with a console that breaks after about a second of playing
    script = ("import sys, time; from live_biaxial import console, cli; t0 = time.monotonic(); "
              "orig = console.Console.refresh_view\n"
              "def broken(self):\n"
              "    if time.monotonic() - t0 > 2.5: raise RuntimeError('console bug')\n"
              "    orig(self)\n"
              "console.Console.refresh_view = broken; sys.exit(cli.main(sys.argv[1:]))")
    play = [sys.executable, "-c", script, "play", "--api", "jack", "--model", str(tiny_model[1]),
            "--port", daw.in_name, "--bpm", "200", "--density", "-1"]
    command = (f"cd {shlex.quote(str(ROOT))} && env JACK_DEFAULT_SERVER={os.environ['JACK_DEFAULT_SERVER']} "
               f"{shlex.join(play)}; echo EXIT=$?; sleep 30")
    tmux = Tmux(f"lbcrash{os.getpid()}", command)
    try:
        screen = tmux.wait_for("EXIT=", timeout=20)
        assert "EXIT=1" in screen
        assert "console bug" in screen and "every note was released" in screen  # said on a normal terminal
        assert len(daw.note_ons()) > 0
        time.sleep(0.3)
        assert not hanging_notes([m for _, m in daw.received])
    finally:
        tmux.kill()
        daw.close()
