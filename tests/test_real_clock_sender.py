"""`live-biaxial play --clock-in` following a sender this project did not write: Debian's jack_midi_clock, moved by
JACK transport (jack_transport as timebase master) the way a DAW on JACK sends clock, Start, Stop, Continue and
Song Position Pointer. bench/bench_sync.py measures the same over many takes."""

import signal
import time

import numpy as np
import pytest

from tests.busy import timing_holds
from tests.daw import start_engine, wait_until
from tests.transport_clock import Listener, TransportClock, installed, takes

pytestmark = pytest.mark.jack


@pytest.fixture
def sender(jack):
    if not installed():
        pytest.fail("jack_midi_clock and jack_transport are not installed (apt-get install jack-midi-clock jackd2)")
    with TransportClock(bpm=180, resync_s=0.4) as clock, Listener() as listener:
        jack.server.mark()
        yield clock, listener, jack.server


def on_the_grid(take: dict) -> None:
    """The take never ends off the grid; a 16th moved by a pulse only where a pulse went missing before the
    follower could know (the sender drops one of its own at a change of tempo), or where JACK lost one and the
    listener's reading of the gap is as uncertain as the engine's."""
    assert not take["off_grid"], take
    assert take["sixteenths_off_grid"] <= 1 + take["pulses_lost_before_the_listener"], \
        {k: v for k, v in take.items() if k != "onset_ms"}
    onset = np.array(take["onset_ms"])
    assert onset.min() > -1.0 and np.median(onset) < 5.0, take


def test_start_stop_a_tempo_change_and_continue_from_a_song_position(sender, tiny_model):
    """Two takes from bar 1 (the second with a tempo change while rolling) and one from a song position: each
    plays, on the 16ths of the sender's clock, every note released at Stop; the last take goes on from the
    song position (bar 5: the bar it ends is bar 5, where it would be bar 1 from the top)."""
    clock, listener, server = sender
    eng = start_engine(["--clock-in", "mclk_out", "--anti-silence", "1"], tiny_model[1], quiet=False)
    try:
        listener.hear("live-biaxial:live-biaxial")
        for change in (None, 240):
            clock.locate(0)
            time.sleep(0.2)
            clock.play()
            time.sleep(1.4)  # a bar at 180
            if change:
                clock.tempo(change)
                time.sleep(1.0)
            clock.stop()
            time.sleep(0.4)
            clock.tempo(180)
        clock.locate(64)  # bar 5; jack_midi_clock says where it will Continue: resync_s further on
        time.sleep(0.2)
        clock.play()
        wait_until(lambda: any(m.type == "continue" for _, m in listener.sent), 5, "no Continue from the sender")
        time.sleep(1.4)
        clock.stop()
        time.sleep(0.4)
    finally:
        eng.send_signal(signal.SIGTERM)
        summary, err = eng.communicate(timeout=10)
    found = takes(listener.sent, listener.heard)
    assert [t["kind"] for t in found] == ["start", "start", "continue"], found
    for take in found:
        assert take["notes"] > 0, take  # never a silent take
        assert take["hanging"] == 0, take
        assert take["all_notes_off_after_stop"] >= 2, take  # the release, and once more (nothing confirms it)
    timing_holds(None, lambda: [on_the_grid(take) for take in found], server)
    assert eng.returncode == 143 and "Traceback" not in err, err
    bars = [int(line.split()[1]) for line in summary.splitlines() if line.startswith("bar ")]
    assert bars == [1, 1, 2, 5], summary  # a bar of each take from the top (two for the tempo change), then bar 5
