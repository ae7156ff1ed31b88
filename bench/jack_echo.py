"""The floor of the external-clock benchmark: a trivial JACK client that answers every 6th MIDI
clock pulse (each 16th) with a note-on, straight from rtmidi's callback. Two JACK hops and a
Python callback, nothing else. Used by bench_timing.py:
    python -m bench.jack_echo CLOCK_PORT NOTE_PORT
"""

import sys
import threading

import rtmidi


def main():
    clock_name, note_name = sys.argv[1], sys.argv[2]
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="echo-out")
    out.open_port([i for i, p in enumerate(out.get_ports()) if note_name in p][0])
    inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="echo-in")
    inp.ignore_types(sysex=True, timing=False, active_sense=True)
    count = [0]

    def on_message(event, _):
        status = event[0][0]
        if status == 0xFA:  # Start
            count[0] = 0
        elif status == 0xF8:  # clock
            if count[0] % 6 == 0:
                out.send_message([0x90, 60, 100])
                out.send_message([0x80, 60, 0])
            count[0] += 1

    inp.set_callback(on_message)
    inp.open_port([i for i, p in enumerate(inp.get_ports()) if clock_name in p][0])
    print("playing", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
