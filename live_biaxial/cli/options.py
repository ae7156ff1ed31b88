"""Options shared by the commands that play the model (`play`, `generate`): temperature, key and meter."""

from __future__ import annotations

from ..errors import LiveBiaxialError

TEMPERATURE_HELP = "sampling temperature, < 1: safer notes, > 1: wilder (default: the model's own, else 1)"


def temperature_of(args, cell) -> float:
    """--temperature if given, else the model's own (its metadata; 1 for models that name none)."""
    from ..music.controls import TEMPERATURE_RANGE

    if args.temperature is None:
        return cell.temperature
    low, high = TEMPERATURE_RANGE
    if not low <= args.temperature <= high:
        raise LiveBiaxialError(f"--temperature {args.temperature:g}: choose one within {low:g}..{high:g} (1 = plain sampling)")
    return args.temperature


def add_key_args(p) -> None:
    p.add_argument("--key", help="start in this key ('D minor', 'Bb'): the model first hears a cadence in it, I IV V I")
    p.add_argument("--lock", action="store_true", help="with --key: only notes of its scale play")


def key_of_args(args):
    """--key as (root, scale, the cadence (16, 78, 2) the model hears first), or None; --lock needs --key."""
    from ..music.controls import MINOR_SCALES, parse_key
    from ..music.generation import key_prime

    if args.key is None:
        if args.lock:
            raise LiveBiaxialError("--lock needs --key (the key whose scale it keeps to, e.g. --key 'D minor')")
        return None
    root, scale = parse_key(args.key)
    return root, scale, key_prime(root, scale in MINOR_SCALES)


def add_meter_arg(p) -> None:
    p.add_argument("--meter", default="4/4",
                   help="the time signature, e.g. 3/4, 6/8, 12/8 (default 4/4): bars are counted in it and a model "
                        "that listens hears its strong and weak beats")


def meter_of(args) -> tuple[tuple[int, int], tuple[int, int]]:
    """--meter as ((16ths per bar, 16ths per beat), (numerator, denominator))."""
    from ..music.meter import parse_meter

    steps = parse_meter(args.meter)
    num, _, den = args.meter.partition("/")
    return steps, (int(num), int(den))
