"""Options shared by the commands that play the model (`play`, `generate`): key, meter and harmony."""

from __future__ import annotations

from ..errors import LiveBiaxialError

def add_key_args(p) -> None:
    p.add_argument("--key", help="start in this key ('D minor', 'Bb'): the model first hears a cadence in it, I IV V I")
    p.add_argument("--lock", action="store_true", help="with --key: only notes of its scale play")


def key_of_args(args):
    """--key as (root, scale, the cadence (16, 78, 2) the model hears first), or None; --lock needs --key."""
    from ..steering.controls import MINOR_SCALES, parse_key
    from ..steering.generation import key_prime

    if args.key is None:
        if args.lock:
            raise LiveBiaxialError("--lock needs --key (the key whose scale it keeps to, e.g. --key 'D minor')")
        return None
    root, scale = parse_key(args.key)
    return root, scale, key_prime(root, scale in MINOR_SCALES)


def add_meter_arg(p, from_file: bool = False) -> None:
    default = "the time signature of the --accompany or --prime file, else 4/4" if from_file else "4/4"
    p.add_argument("--meter",
                   help=f"the time signature, e.g. 3/4, 6/8, 12/8 (default: {default}; given, it always wins): bars "
                        "are counted in it and a model that listens hears its strong and weak beats")


def add_harmony_args(p, live: bool) -> None:
    """--chords, --chords-from, --harmony (and, live, --chord-channel): where the chord comes from, how firmly
    it is kept to."""
    from ..steering.controls import HARMONY_DEFAULT

    p.add_argument("--chords", metavar="CHART",
                   help='a chord chart to follow, e.g. "Am | F | C G | E7" (bars split by |, the chords of a bar '
                        "share it evenly, the chart repeats; N.C. = no chord, %% = the bar before)")
    p.add_argument("--chords-from", metavar="FILE.mid",
                   help="follow the chord symbols (marker or text events) of this MIDI file, e.g. one generate wrote")
    if live:
        p.add_argument("--chord-channel", type=int, metavar="N",
                       help="notes on this channel (1..16) of --input are the chord to follow (a DAW's chord track, "
                            "your left hand), not your part")
    p.add_argument("--harmony", type=float, default=HARMONY_DEFAULT,
                   help=f"0 = notes as the model likes .. 1 = only the chord's tones and notes passing by step "
                        f"between them, where a chord is known (default {HARMONY_DEFAULT:g}; a key and CC 24 move it live)")


def harmony_of(args, cell, record: bool = False):
    """The harmony follower of --chords / --chords-from (first found wins: a chart, a chord track, the player's
    chord, the model's plan) and the harmony control's strength; bad values are one line."""
    from ..music.chords import ChordChart, read_chord_track
    from ..steering.harmony import HarmonyFollower

    if args.chords and args.chords_from:
        raise LiveBiaxialError("--chords and --chords-from: choose one chart")
    if not 0 <= args.harmony <= 1:
        raise LiveBiaxialError(f"--harmony {args.harmony:g}: 0 (as the model likes) .. 1 (only chord tones and passing notes)")
    channel = getattr(args, "chord_channel", None)
    if channel is not None and not 1 <= channel <= 16:
        raise LiveBiaxialError(f"--chord-channel {channel}: a MIDI channel, 1..16")
    if channel is not None and not getattr(args, "input", None):
        raise LiveBiaxialError("--chord-channel needs --input: the port whose notes on that channel are the chord")
    chart = ChordChart.parse(args.chords) if args.chords else (
        read_chord_track(args.chords_from, cell.steps_per_beat) if args.chords_from else None)
    follower = HarmonyFollower(chart, plans=bool(getattr(cell, "chords", False)), seed=args.seed, record=record)
    return follower, args.harmony


def meter_of(args, source=None) -> tuple[tuple[int, int], tuple[int, int]]:
    """The meter, by one rule for every command: --meter if given, else the first time signature of ``source``
    (a mido.MidiFile: the part or the prime), else 4/4 -> ((16ths per bar, 16ths per beat), (numerator,
    denominator))."""
    from ..music.meter import parse_meter

    text = args.meter
    if text is None and source is not None:
        found = next((m for track in source.tracks for m in track if m.type == "time_signature"), None)
        text = f"{found.numerator}/{found.denominator}" if found is not None else None
    text = text or "4/4"
    steps = parse_meter(text)
    num, _, den = text.partition("/")
    return steps, (int(num), int(den))
