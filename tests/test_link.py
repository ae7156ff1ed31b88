"""`--clock link`: two Link peers (this test's and `live-biaxial play`'s), only ever inside a network
namespace the test makes (tests/netns.py); the MIDI goes over the test's JACK server."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.link_session import analyse
from tests.netns import private_network_argv

pytest.importorskip("link", reason="the link extra is not installed (pip install -e '.[link]')")
ROOT = Path(__file__).resolve().parents[1]


def in_private_network(args, out, timeout=120):
    r = subprocess.run(private_network_argv() + [sys.executable, "-m", "tests.link_session", *args, "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())


@pytest.mark.jack
def test_play_follows_a_link_session_on_its_grid_through_tempo_change_stop_and_start(jack, tiny_model, tmp_path):
    result = in_private_network(["--model", str(tiny_model[1]), "--bpm", "150", "--new-bpm", "190",
                                 "--engine-bpm", "120"], tmp_path / "session.json")
    assert "error" not in result, result["error"]
    assert result["interfaces"] == ["lo"] and result["peers"] == 1
    # joining did not pull the session to play's own --bpm 120
    assert result["tempo_after_join"] == pytest.approx(150, abs=0.01)
    a = analyse(result)
    assert result["events"]["silent_before_start"] and a["ons_before_start"] == 0  # it waits for the transport
    err, sixteenth = a["onset_error_ms"], min(a["sixteenth_ms"])
    assert len(err) > 50
    assert err.min() > -2.0, np.round(err, 1)  # never ahead of the session's 16th
    assert np.median(err) < 0.1 * sixteenth and np.percentile(err, 90) < 0.4 * sixteenth, np.round(err, 1)
    # every bar of ours ends on the session's 16th number 16 of its bar: our bars are its bars, at both tempos
    assert len(a["bar_end_index"]) >= 5 and set(a["bar_end_index"]) == {15}, a["bar_end_index"]
    assert not a["hanging_at_stop"] and a["ons_while_stopped"] == 0  # the session stopped: so did it, notes off
    assert a["ons_after_restart"] > 0  # and it plays again when the session does
    assert result["tempo_at_end"] == pytest.approx(190, abs=0.01)
    assert result["engine_rc"] == 143, result["engine_stderr"]


def test_the_consoles_tempo_and_transport_go_to_the_session(tmp_path):
    r = in_private_network(["--scenario", "controls"], tmp_path / "controls.json")
    assert r["interfaces"] == ["lo"]
    assert r["alone_started"] == 1 and r["alone_pulses"] > 24 and r["alone_tempo"] == pytest.approx(111)  # alone: it plays
    assert r["peers"] == 1 and r["tempo_after_join"] == pytest.approx(97) and "1 peer" in r["label"]
    assert r["pulses_before_play"] == 0  # with a peer, it waits for the session's transport
    assert r["peer_tempo_after_set"] == pytest.approx(133, abs=0.01)
    assert r["peer_playing"] and r["pulses_playing"] > 0
    # a peer jumped the beat two beats ahead: it moved there (8 16ths on) instead of playing the skipped ones
    assert r["relocations"] == 1 and len(r["located_to"]) == 1 and r["pulses_after_jump"] > 24
    assert abs(r["located_to"][0] - (r["pulses_playing"] // 6 + 8)) <= 2, r
    assert not r["peer_playing_after_stop"] and r["calls"] == ["start", "stop"]


def test_clock_link_without_the_extra_is_one_line(tmp_path):
    from tests.conftest import run_cli

    stub = tmp_path / "nolink"
    stub.mkdir()
    (stub / "link.py").write_text("raise ImportError('no module named link')\n")  # as if the extra were absent
    r = run_cli("play", "--clock", "link", "--port", "nowhere", env={"PYTHONPATH": str(stub)}, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and 'pip install "live-biaxial[link]"' in r.stderr
