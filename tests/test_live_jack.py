"""`live-biaxial play` against real MIDI ports on a JACK server (dummy driver), with this test
process playing the DAW: it sends Start, clock and Stop and receives the engine's notes."""

import signal
import time

import mido
import numpy as np
import pytest

from tests.busy import timing_holds
from tests.conftest import run_cli
from tests.daw import FakeDaw, start_engine, stop_engine, wait_until
from tests.fakes import hanging_notes

pytestmark = pytest.mark.jack


@pytest.fixture
def daw(jack, request):
    import zlib

    name = request.node.name  # a parametrized test's cases share their first letters: the checksum tells them apart
    d = FakeDaw(jack, name[5:21].replace("_", "") + f"{zlib.crc32(name.encode()) % 1000:03d}")
    yield d
    d.close()


def grid_errors_ms(daw, ons):
    """Per note-on: its arrival minus the send time of its 16th's pulse (the nearest one before it), and
    the same less the longest JACK took, meanwhile, to bring the DAW's own pulses back to it (the
    server's and the test process's stalls, which are not the engine's)."""
    sixteenths = np.array(daw.pulses[::6])
    errs, own = [], []
    for t, _ in ons:
        pulse = sixteenths[sixteenths <= t + 0.002][-1]
        errs.append((t - pulse) * 1e3)
        own.append(errs[-1] - daw.jack_delay_ms(pulse, t))
    return np.array(errs), np.array(own)


def assert_on_grid(errors, bpm):
    """Notes land on the 16th grid: never before their pulse, and nearly all well inside the 16th once
    JACK's own delays are taken off (the dummy driver without realtime priority on a busy 2-core machine
    was seen to hold a cycle for 50-74 ms); bench/bench_timing.py measures the real figures."""
    err, own = errors
    sixteenth_ms = 15000.0 / bpm
    shown = np.round(np.stack([err, own]), 1)
    assert err.min() > -1.0, shown
    assert np.median(own) < 0.1 * sixteenth_ms, shown
    assert np.percentile(own, 90) < 0.4 * sixteenth_ms, shown


def messages(daw):
    return [m for _, m in daw.received]


def test_follows_the_daw_clock_on_the_grid_and_releases_on_stop(quiet_machine, daw, tiny_model):
    eng = start_engine(["--port", daw.in_name, "--clock-in", daw.clock_name, "--anti-silence", "1"], tiny_model[1])
    try:
        daw.start()
        daw.clock(32, bpm=150)
        ons = daw.note_ons()
        assert len(ons) > 10
        timing_holds(quiet_machine, lambda: assert_on_grid(grid_errors_ms(daw, ons), 150))
        daw.send("stop")
        daw.pause(0.3)
        daw.clock(0, bpm=150)
        wait_until(lambda: not hanging_notes(messages(daw)), 5, "notes left sounding after Stop")
        assert any(m.type == "control_change" and m.control == 123 for m in messages(daw))
        n_before = len(daw.note_ons())
        time.sleep(0.3)
        assert len(daw.note_ons()) == n_before  # stopped means silent
    finally:
        err = stop_engine(eng)
    assert eng.returncode == 143, err  # SIGTERM: 128 + 15, after every note was released
    assert not hanging_notes(messages(daw))


def test_song_position_pointer_relocates(daw, tiny_model):
    # --bars 3 makes the engine quit at 16th 48: after SPP 32 that is 16 16ths later, not 40
    eng = start_engine(["--port", daw.in_name, "--clock-in", daw.clock_name, "--bars", "3"], tiny_model[1])
    try:
        daw.start()
        daw.clock(8, bpm=200)
        daw.send("stop")
        daw.send("songpos", pos=32)
        daw.send("continue")
        daw.pause(0.05)
        sent = 0
        while eng.poll() is None and sent < 40:
            daw.clock(1, bpm=200)
            sent += 1
        out, _ = eng.communicate(timeout=5)
        assert 15 <= sent <= 24, sent  # without the relocation it would run 40
        played = int(out.strip().splitlines()[-1].split()[1])  # "live-biaxial: N 16ths, ..."
        assert played in (48, 49), out
    finally:
        eng.kill()
    assert not hanging_notes(messages(daw))


def test_tempo_change_and_clock_dropout(quiet_machine, daw, tiny_model):
    eng = start_engine(["--port", daw.in_name, "--clock-in", daw.clock_name], tiny_model[1])
    try:
        daw.start()
        daw.clock(16, bpm=110)
        daw.clock(16, bpm=170)  # a tempo change mid-run
        errors = grid_errors_ms(daw, daw.note_ons())
        timing_holds(quiet_machine, lambda: assert_on_grid(errors, 170))
        gap_start = time.perf_counter()
        daw.pause(0.8)  # the DAW's clock stops arriving
        time.sleep(0.6)
        assert not hanging_notes(messages(daw)), "notes left sounding during a clock dropout"
        daw.clock(16, bpm=170)  # ticks return: it plays again
        assert len(daw.note_ons(since=gap_start + 0.7)) > 0
    finally:
        stop_engine(eng)
    assert not hanging_notes(messages(daw))


def test_api_auto_goes_on_to_jack_where_alsa_has_no_sequencer(daw, tiny_model):
    from pathlib import Path

    if Path("/dev/snd/seq").exists():
        pytest.skip("this machine has ALSA's sequencer: --api auto rightly takes it")
    r = run_cli("ports", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "MIDI system: JACK" in r.stdout and daw.in_name in r.stdout
    assert "Cannot connect" not in r.stderr  # JACK's client library kept quiet while ALSA was tried
    r = run_cli("play", "--model", tiny_model[1], "--port", daw.in_name, "--bars", "1", "--bpm", "240", "--quiet",
                timeout=60)
    assert r.returncode == 0, r.stderr
    assert "(JACK)" in r.stdout and len(daw.note_ons()) > 0


def test_port_by_substring_and_the_unknown_port_message(daw, tiny_model):
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--port", daw.in_name.upper(),
                "--bars", "1", "--bpm", "240", "--quiet", "--density", "-1.5", timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(daw.note_ons()) > 0 and not hanging_notes(messages(daw))
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--port", "no-such-synth", timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "no-such-synth" in r.stderr and daw.in_name in r.stderr
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--port", daw.in_name, "--clock-in", "no-such-daw",
                timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no-such-daw" in r.stderr, r.stderr
    assert "16ths" not in r.stdout  # no take to sum up: it never played


def test_the_new_virtual_port_is_called_live_biaxial(jack, tiny_model):
    eng = start_engine(["--bpm", "240"], tiny_model[1])  # no --port: a new virtual output
    try:
        names = jack.get_input_names()  # our output, as other clients see it
    finally:
        stop_engine(eng)
    assert "live-biaxial:live-biaxial" in names, names
    assert not any("RtMidiOut Client" in n for n in names), names
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--input", "no-such-keys", timeout=60)
    assert r.returncode == 2 and "no-such-keys" in r.stderr
    assert "live-biaxial:live-biaxial" not in r.stderr, r.stderr  # its own output is not offered as an input


def test_play_in_a_locked_key_from_the_command_line(daw, tiny_model):
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--port", daw.in_name, "--key", "Eb major", "--lock",
                "--bars", "2", "--bpm", "240", "--quiet", "--density", "1", timeout=60)
    assert r.returncode == 0, r.stderr
    ons = [m.note for _, m in daw.note_ons()]
    assert ons and {n % 12 for n in ons} <= {3, 5, 7, 8, 10, 0, 2}  # E-flat major
    assert not hanging_notes(messages(daw))


def test_input_notes_and_ccs_reach_the_engine_and_the_recording(daw, tiny_model, tmp_path):
    import mido

    rec = tmp_path / "take.mid"
    # internal clock; the DAW's output port is the engine's --input (a keyboard, or a DAW track)
    eng = start_engine(["--port", daw.in_name, "--input", daw.clock_name, "--bpm", "240", "--record", rec],
                       tiny_model[1])
    try:
        time.sleep(0.3)
        daw.send("note_on", note=62, velocity=100)
        daw.send("control_change", control=21, value=0)  # temperature CC
        time.sleep(0.4)
        daw.send("note_off", note=62)
        time.sleep(0.3)
    finally:
        err = stop_engine(eng)
    assert eng.returncode == 143, err  # SIGTERM: 128 + 15, after every note was released
    tracks = {t.name: [m for m in t if not m.is_meta] for t in mido.MidiFile(rec).tracks}
    human = tracks["human"]
    assert [(m.type, m.note) for m in human] == [("note_on", 62), ("note_off", 62)]
    assert sum(1 for m in tracks["live-biaxial"] if m.type == "note_on") == len(daw.note_ons())
    assert not hanging_notes(messages(daw))


def test_negative_offset_plays_early_against_an_external_clock(quiet_machine, daw, tiny_model):
    eng = start_engine(["--port", daw.in_name, "--clock-in", daw.clock_name, "--offset-ms", "-15"], tiny_model[1])
    try:
        daw.start()
        daw.clock(40, bpm=150)
        daw.send("stop")
        daw.pause(0.2)
        daw.clock(0, bpm=150)
    finally:
        stop_engine(eng)
    sixteenths = np.array(daw.pulses[::6])
    ons = [t for t, _ in daw.note_ons() if t > sixteenths[4]]  # once the tempo is known
    nearest = sixteenths[np.abs(np.array(ons)[:, None] - sixteenths[None, :]).argmin(1)]
    early_ms = (np.array(ons) - nearest) * 1e3
    assert len(early_ms) > 10
    assert -19.0 < np.median(early_ms) < -9.0, np.round(early_ms, 1)  # 15 ms early, plus a JACK hop or two
    assert not hanging_notes(messages(daw))


def test_a_lost_output_port_is_reported_and_reconnected(jack, tiny_model):
    from tests.daw import FakeDaw

    synth = FakeDaw(jack, "lostport")
    eng = start_engine(["--port", synth.in_name, "--bpm", "240"], tiny_model[1])
    again = None
    try:
        wait_until(synth.note_ons, 5, "no notes before the port went away")
        synth.close(unplug=True)  # the synth is unplugged
        time.sleep(2.0)
        assert eng.poll() is None  # still running, waiting for it
        again = FakeDaw(jack, "lostport")  # plugged in again, same name
        wait_until(again.note_ons, 5, "no notes after the port came back")
    finally:
        err = stop_engine(eng)
        if again is not None:
            time.sleep(0.2)
            again.close()
    assert eng.returncode == 143, err  # SIGTERM: 128 + 15, after every note was released
    assert "went away; notes released" in err and "is back" in err, err
    assert "Traceback" not in err
    assert not hanging_notes(messages(again))


def test_clock_input_is_stamped_with_jacks_receive_time_through_active_sensing(jack):
    """The stamps the clock follower gets are JACK's receive times: 10 ms apart for pulses sent
    10 ms apart, even with Active Sensing between them (rtmidi times each message from the last
    one it kept, so an input that dropped those would stamp every pulse ~5 ms early)."""
    import mido

    from live_biaxial.ports import PolledInput

    out = jack.open_output("stamp-src", virtual=True)
    stamps = []
    inp = PolledInput(next(n for n in jack.get_input_names() if "stamp-src" in n),
                      lambda msg, t: stamps.append(t) if msg.type == "clock" else None, stamped=True)
    try:
        time.sleep(0.3)  # JACK wires the connection
        sent = []
        for _ in range(30):
            out.send(mido.Message("clock"))
            sent.append(time.perf_counter())
            time.sleep(0.005)
            out.send(mido.Message.from_bytes([0xFE]))  # Active Sensing, as hardware sends every 300 ms
            time.sleep(0.005)
        wait_until(lambda: len(stamps) == 30, 5, "every pulse arrived")
    finally:
        inp.close()
        out.close()
    gaps = np.diff(stamps) * 1e3
    sent_gaps = np.diff(sent) * 1e3
    assert np.median(np.abs(gaps - sent_gaps)) < 1.0, (gaps, sent_gaps)
    assert all(0 <= t - s < 0.05 for t, s in zip(stamps, sent))  # after the send, never long after


def test_an_input_goes_on_listening_after_a_message_it_could_not_handle(jack):
    """A bug met by one message (as the zero tempo once was) must not end the MIDI input thread on stage."""
    import mido

    from live_biaxial.ports import PolledInput

    out = jack.open_output("flaky-src", virtual=True)
    seen = []

    def callback(msg):
        if msg.type == "clock":
            seen.append(msg)
            if len(seen) == 1:
                raise ZeroDivisionError("float division by zero")

    inp = PolledInput(next(n for n in jack.get_input_names() if "flaky-src" in n), callback)
    try:
        time.sleep(0.3)  # JACK wires the connection
        for _ in range(10):
            out.send(mido.Message("clock"))
            time.sleep(0.005)
        wait_until(lambda: len(seen) == 10, 5, "every pulse after the failed one arrived")
    finally:
        inp.close()
        out.close()
    assert inp.failures == 1 and inp.first_failure == "clock: ZeroDivisionError: float division by zero"



def test_truncated_and_unknown_bytes_are_dropped_and_counted_and_the_input_listens_on(jack):
    """A lone F1, a pitch bend cut short, a song position without its second byte: each once ended the
    input's thread (mido raised IndexError); now each is dropped, counted and shown, and the clock goes on."""
    import mido
    import rtmidi

    from live_biaxial.ports import PolledInput

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="garbage")
    out.open_virtual_port("garbage-src")
    seen = []
    inp = PolledInput(next(n for n in jack.get_input_names() if "garbage-src" in n), seen.append)
    bad = [[0xE0, 0x10], [0xF1], [0xF2, 0x01], [0x90, 60], [0x45, 0x12]]
    try:
        time.sleep(0.3)  # JACK wires the connection
        for k in range(20):
            out.send_message(bad[k % len(bad)])
            time.sleep(0.003)
            out.send_message(mido.Message("clock").bytes())
            time.sleep(0.003)
        wait_until(lambda: len(seen) == 20, 5, "every pulse after the bad bytes arrived")
    finally:
        inp.close()
        out.close_port()
    assert inp.dropped == 20 and inp.first_dropped == "E0 10"
    assert all(m.type == "clock" for m in seen)


def test_a_sysex_left_open_swallows_nothing_that_came_after_it(jack):
    """rtmidi's JACK input folds every event after a sysex with no F7 into it, until one comes: the clock
    pulses, the notes and the next sysex inside are taken out again; the open sysex is dropped and counted."""
    import rtmidi

    from live_biaxial.ports import PolledInput

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="sysex")
    out.open_virtual_port("sysex-src")
    seen, stamps = [], []
    inp = PolledInput(next(n for n in jack.get_input_names() if "sysex-src" in n),
                      lambda m, t: (seen.append(m), stamps.append((t, time.perf_counter()))), stamped=True)
    try:
        time.sleep(0.3)
        for _ in range(3):  # a little traffic first: the input's time mapping settles
            out.send_message([0xF8])
            time.sleep(0.01)
        out.send_message([0xF0, 0x43, 0x10])  # a sysex cut short: no F7
        for _ in range(12):
            out.send_message([0xF8])
            time.sleep(0.02)
        out.send_message([0x90, 60, 100])
        out.send_message([0xF0, 0x7E, 0x01, 0xF7])  # the next one, complete: its F7 lets them all through
        for _ in range(250):  # the clock goes on for 2.5 s
            out.send_message([0xF8])
            time.sleep(0.01)
        wait_until(lambda: len(seen) >= 3 + 12 + 2 + 250, 5, "the messages after the open sysex arrived")
    finally:
        inp.close()
        out.close_port()
    assert [m.type for m in seen[:19]] == ["clock"] * 15 + ["note_on", "sysex", "clock", "clock"]
    assert inp.dropped == 1 and inp.first_dropped.startswith("F0 43 10 F8")
    # the times given to the last pulses are when they came, not the quarter second they were held up
    late = [seen_at - stamp for stamp, seen_at in stamps[-50:]]
    assert max(late) < 0.02, max(late)


def test_an_input_whose_polling_fails_restarts_and_then_says_it_stopped(jack):
    import rtmidi

    from live_biaxial.ports import PolledInput

    class Flaky(PolledInput):
        fails = 2

        def _poll(self):
            if self.restarts < self.fails:
                raise RuntimeError("queue gone")
            super()._poll()

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="flaky")
    out.open_virtual_port("flaky-src")
    name = next(n for n in jack.get_input_names() if "flaky-src" in n)
    seen = []
    inp = Flaky(name, seen.append)
    try:
        time.sleep(0.3)
        out.send_message([0xF8])
        wait_until(lambda: seen, 5, "the restarted input heard the clock")
    finally:
        inp.close()
    assert inp.restarts == 2 and not inp.dead and "queue gone" in inp.last_error
    Flaky.fails = 99
    inp = Flaky(name, seen.append)
    try:
        wait_until(lambda: inp.dead, 5, "the input gave up")
    finally:
        inp.close()
        out.close_port()
    assert "stopped (RuntimeError: queue gone, 4 times)" in inp.dead


def fuzz_messages(n: int, seed: int) -> list[list[int]]:
    """n byte sequences as a bad cable, a buggy controller or a DAW's dump send them: valid channel messages,
    real-time bytes, truncated messages, stray data bytes, undefined status bytes, sysex complete, left open
    and split in two."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        kind = rng.integers(8)
        # no note-on or CC, not even cut short (the pieces of folded ones are put together again): those would
        # change the music, which is not what this measures
        status = int(rng.choice([0x80, 0xA0, 0xC0, 0xD0, 0xE0])) | int(rng.integers(16))
        data = [int(x) for x in rng.integers(0, 128, 3)]
        length = 2 if status >> 4 in (0xC, 0xD) else 3
        if kind == 0:
            out.append([status] + data[: length - 1])  # valid
        elif kind == 1:
            out.append([int(rng.choice([0xFE, 0xF9, 0xFD, 0xFF]))])  # real-time (no clock: that is the DAW's)
        elif kind == 2:
            out.append([status] + data[: length - 2])  # truncated
        elif kind == 3:
            out.append(data[: int(rng.integers(1, 4))])  # stray data bytes
        elif kind == 4:
            out.append([int(rng.choice([0xF4, 0xF5, 0xF1, 0xF2, 0xF3]))])  # undefined, or cut short
        elif kind == 5:
            out.append([0xF0] + data + [0xF7])  # a complete sysex
        elif kind == 6:
            out.append([0xF0] + data)  # left open
        else:
            out.append(data[:2] + [0xF7])  # the end of a split one (rtmidi sends 3 bytes at most unless F0 ...)
    return out


def test_twenty_thousand_bad_and_good_messages_on_the_input_harm_neither_grid_nor_count(quiet_machine, jack, daw,
                                                                                        tiny_model):
    """While the DAW's clock runs, the --input port takes 20,000 fuzzed messages in 2 s: the input keeps
    listening, the bad ones are counted, every 16th the DAW counted is played on the grid, nothing hangs."""
    import threading

    import rtmidi

    jack.server.mark()
    fuzz = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fuzz")
    fuzz.open_virtual_port("fuzz-src")
    time.sleep(0.3)
    eng = start_engine(["--port", daw.in_name, "--clock-in", daw.clock_name, "--input", "fuzz-src",
                        "--anti-silence", "1"], tiny_model[1])
    sent = []

    def spray():
        msgs = fuzz_messages(20_000, seed=7)
        t0 = time.perf_counter()
        for k, m in enumerate(msgs):
            fuzz.send_message(m)
            sent.append(m)
            if k % 100 == 99:  # 20,000 in 2 s
                sleep_for = t0 + (k + 1) / 10_000 - time.perf_counter()
                if sleep_for > 0:
                    time.sleep(sleep_for)

    sprayer = threading.Thread(target=spray)
    try:
        daw.start()
        daw.clock(8, bpm=150)  # the lock first
        sprayer.start()
        daw.clock(48, bpm=150)  # 2.4 s of clock while the fuzz runs, and after
        sprayer.join()
        daw.send("stop")
        time.sleep(0.3)
    finally:
        eng.send_signal(signal.SIGTERM)
        out, err = eng.communicate(timeout=10)
        fuzz.close_port()
    assert len(sent) == 20_000
    assert eng.returncode == 143 and "Traceback" not in err, err
    assert "live-biaxial: 56 16ths" in out, out  # every 16th the DAW counted
    assert "were no MIDI message and were dropped" in err
    ons = daw.note_ons()
    assert len(ons) > 20
    timing_holds(quiet_machine, lambda: assert_on_grid(grid_errors_ms(daw, ons), 150), jack.server)
    assert not hanging_notes(messages(daw))


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_play_with_its_code_and_a_second_one_loses_nothing(daw, tiny_model, tmp_path, sig, code):
    """Ctrl-C twice in a hurry, or a service manager's SIGTERM then SIGINT: every note is released, the
    recording is saved, and the exit code is the shell's for the first signal."""
    rec = tmp_path / "take.mid"
    eng = start_engine(["--port", daw.in_name, "--bpm", "300", "--density", "1", "--record", rec], tiny_model[1])
    try:
        wait_until(daw.note_ons, 5, "no notes arrived")
        eng.send_signal(sig)
        time.sleep(0.05)
        eng.send_signal(signal.SIGINT)  # a second one while it winds down
        time.sleep(0.05)
        eng.send_signal(signal.SIGTERM)
        _, err = eng.communicate(timeout=10)
    finally:
        if eng.poll() is None:
            eng.kill()
    assert eng.returncode == code, err
    assert "Traceback" not in err
    time.sleep(0.2)
    assert not hanging_notes(messages(daw))
    played = [m for m in mido.MidiFile(rec).tracks[0] if m.type == "note_on" and m.velocity]
    assert played and not hanging_notes([m for m in mido.MidiFile(rec).tracks[0] if not m.is_meta])


def test_play_with_split_sends_parts_on_their_channels(daw, tiny_model):
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--port", daw.in_name, "--split", "2,3,1",
                "--bars", "2", "--bpm", "240", "--quiet", "--density", "2", timeout=60)
    assert r.returncode == 0, r.stderr
    channels = {m.channel for _, m in daw.note_ons()}
    assert len(channels) >= 2 and channels <= {1, 2, 0}  # bass on 2, top on 3, the rest on 1 (0-based here)
    assert not hanging_notes(messages(daw))
    r = run_cli("play", "--api", "jack", "--model", tiny_model[1], "--port", daw.in_name, "--split", "2,3", timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--split 2,3: three different MIDI channels" in r.stderr
