"""Training data: MIDI files and folders, the JSB Chorales JSON files, and the music21 corpus.

``load_data`` turns a list of sources into train/valid/test lists of note-state matrices.
Parsed pieces are cached on disk, keyed by the file's content, so a second run starts at once.
A bad file is skipped with one line and counted; no usable piece at all is a DataError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from live_biaxial.errors import BadMidiFile, DataError
from live_biaxial.music.representation import N_NOTES, midi_to_matrix, pitches_to_matrix, voices_to_matrix
from live_biaxial.steering.generation import key_shift
from live_biaxial.music.meter import grid
from live_biaxial_training.measures.stats import key_of, piece_keys, pitch_class_histogram

from .scores import read_score, tune_key

CACHE_VERSION = 2  # 2: MIDI files keep their time signatures
MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}
JSB_RESOLUTIONS = {"quarter": 1, "8th": 2, "16th": 4}  # steps per beat, from the file name
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass
class Piece:
    name: str
    matrix: np.ndarray  # (T, 78, 2) uint8: every part together
    voices: np.ndarray | None = None  # (T, V) int16 MIDI pitch of each voice, -1 silent (the separated chorales)
    position: np.ndarray | None = None  # (T,) int64 16ths since the bar line (None: bars of 16 from step 0)
    meter: np.ndarray | None = None  # (T, 2) int64 [16ths per bar, 16ths per beat] (None: 4/4)
    harmony: tuple[np.ndarray, np.ndarray] | None = None  # (T,) chord class per step, (T,) bass: parts.harmony_of


@dataclasses.dataclass
class Data:
    splits: dict[str, list[Piece]]
    skipped: list[str]  # one line per skipped file or piece: "path: reason"
    sources: list[str]

    def summary(self) -> dict:
        out = {s: {"pieces": len(p), "steps": int(sum(x.matrix.shape[0] for x in p))} for s, p in self.splits.items()}
        out["skipped"] = len(self.skipped)
        out["sources"] = [Path(s).name for s in self.sources]
        return out


def cache_dir() -> Path:
    return Path(os.environ.get("LIVE_BIAXIAL_CACHE", Path.home() / ".cache" / "live-biaxial"))


def _cache_key(data: bytes, *parts) -> str:
    h = hashlib.sha256(data)
    h.update(repr((CACHE_VERSION,) + parts).encode())
    return h.hexdigest()[:32]


def _cached(key: str, make: Callable[[], dict]) -> dict:
    """Load a dict of arrays/strings from the cache, or make and store it."""
    path = cache_dir() / "pieces" / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temp name of this process's own: two runs started together make the same entry side by side
    tmp = path.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    try:
        np.savez_compressed(tmp, **value)
        os.replace(tmp, path)  # atomic: the other run's entry, the same bytes, or this one
    except OSError:
        tmp.unlink(missing_ok=True)  # a cache that cannot be written only costs the next run a parse
    return value


def _split_of(name: str) -> str:
    """A stable split for files of a MIDI folder: about 10% valid, 10% test."""
    r = zlib.crc32(name.encode()) % 10
    return "valid" if r == 0 else "test" if r == 1 else "train"


def _load_midi(path: Path, steps_per_beat: int) -> tuple[tuple | None, str]:
    raw = path.read_bytes()

    def make():
        try:
            m, rep = midi_to_matrix(path, steps_per_beat)
            note = f"cut at step {rep.cut_at_step} by its {rep.cut_reason}" if rep.cut_reason else ""
            return {"matrix": m, "note": np.array(note), "meters": _meters_array(rep.meters)}
        except BadMidiFile as err:
            return {"matrix": np.zeros((0, N_NOTES, 2), np.uint8), "note": np.array("error:" + err.reason),
                    "meters": _meters_array([])}

    v = _cached(_cache_key(raw, "midi", steps_per_beat), make)
    note = str(v["note"])
    if note.startswith("error:"):
        return None, note[len("error:"):]
    return (*_with_grid(v["matrix"], v["meters"]), None), note


def _meters_array(meters: list) -> np.ndarray:
    return np.array(meters, np.int64).reshape(-1, 3)  # (K, 3) step, steps per bar, steps per beat


def _with_grid(matrix: np.ndarray, meters: np.ndarray) -> tuple:
    """(matrix, positions (T,), meters (T, 2)): where each step lies in its bar, by the file's time signatures."""
    position, meter = grid([tuple(int(x) for x in row) for row in meters], matrix.shape[0])
    return matrix, position, meter


def _load_jsb(path: Path, steps_per_beat: int) -> dict[str, list[Piece]]:
    raw = path.read_bytes()
    res = next((spb for word, spb in JSB_RESOLUTIONS.items() if word in path.name), None)
    if res is not None and res != steps_per_beat:
        raise DataError(f"{path}: has {res} step(s) per beat; train with --steps-per-beat {res} or use another file")
    separated = "separated" in path.name.lower()

    def make():
        try:
            d = json.loads(raw)
        except ValueError as err:
            raise DataError(f"{path}: not a JSON file ({err})") from err
        if not isinstance(d, dict) or not any(s in d for s in SPLITS):
            raise DataError(f"{path}: not a JSB Chorales file (needs 'train'/'valid'/'test' lists)")
        out = {}
        for split in SPLITS:
            conv = voices_to_matrix if separated else pitches_to_matrix
            kept = [p for p in d.get(split, []) if len(p)]
            mats = [conv(p) for p in kept]
            out[f"{split}_lengths"] = np.array([m.shape[0] for m in mats], dtype=np.int64)
            out[f"{split}_notes"] = np.concatenate(mats) if mats else np.zeros((0, N_NOTES, 2), np.uint8)
            if separated:
                out[f"{split}_voices"] = (np.concatenate([np.asarray(p, np.int16) for p in kept]) if kept
                                          else np.zeros((0, 4), np.int16))
        return out

    v = _cached(_cache_key(raw, "jsb", separated, "voices"), make)
    pieces = {}
    for split in SPLITS:
        ends = np.cumsum(v[f"{split}_lengths"])
        mats = np.split(v[f"{split}_notes"], ends[:-1]) if len(ends) else []
        voices = np.split(v[f"{split}_voices"], ends[:-1]) if separated and len(ends) else [None] * len(mats)
        pieces[split] = [Piece(f"{path.stem}/{split}/{i}", m, vs) for i, (m, vs) in enumerate(zip(mats, voices))]
    return pieces


def _music21_files(spec: str) -> list[Path]:
    """'bach' -> every Bach score in music21's corpus; 'bach:20' -> the first 20 (sorted by path)."""
    name, _, count = spec.partition(":")
    if count and not count.isdigit():
        raise DataError(f"music21:{spec}: write music21:COMPOSER or music21:COMPOSER:COUNT (e.g. music21:bach:50)")
    try:
        from music21 import corpus
    except ImportError as err:
        raise DataError("the music21 source needs the music21 package: pip install music21") from err
    paths = sorted(Path(str(p)) for p in corpus.getComposer(name))
    mxl = {p.with_suffix("") for p in paths if p.suffix == ".mxl"}
    paths = [p for p in paths if p.suffix != ".krn" or p.with_suffix("") not in mxl]  # one edition of each
    if not paths:
        raise DataError(f"music21:{name}: the music21 corpus has no composer '{name}' (try bach, palestrina, monteverdi)")
    return paths[: int(count)] if count else paths


def _load_music21(path: Path, steps_per_beat: int) -> tuple[tuple | None, str]:
    """A score of the music21 corpus with its parts apart (scores.py)."""
    raw = path.read_bytes()

    def make():
        try:
            return read_score(path, steps_per_beat)
        except Exception as err:  # music21 raises many types on odd scores
            return {"matrix": np.zeros((0, N_NOTES, 2), np.uint8), "note": np.array(f"error:music21 could not read it ({err})")}

    v = _cached(_cache_key(raw, "music21-parts", steps_per_beat), make)
    note = str(v["note"])
    if note.startswith("error:"):
        return None, note[len("error:"):]
    if v["matrix"].shape[0] == 0:
        return None, "no notes"
    voices = v["voices"] if v["voices"].size else None
    return (v["matrix"], v["position"], v["meter"], voices), note


def _music21_name(path: Path) -> str:
    """'bach/bwv1.6.mxl', 'haydn/opus74no1/movement1.mxl': the path inside music21's corpus."""
    from music21 import corpus

    root = Path(corpus.__file__).parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def _held_out_tunes(jsb: dict[str, list[Piece]]) -> dict:
    """A score's tune (scores.tune_key) -> the split of the first JSB piece with voices apart that has it,
    the held-out splits first: a chorale the standard split holds out stays held out in another edition.
    ``jsb``: the splits holding only what the JSB files gave."""
    tunes: dict = {}
    for split in ("test", "valid", "train"):
        for p in jsb[split]:
            if p.voices is not None:
                tunes.setdefault(tune_key(p.voices), split)
    tunes.pop(None, None)
    return tunes


def load_data(
    sources: list[str],
    steps_per_beat: int = 4,
    min_steps: int = 128,
    log: Callable[[str], None] = print,
) -> Data:
    """Load every source; a file that cannot be used is reported and skipped."""
    splits: dict[str, list[Piece]] = {s: [] for s in SPLITS}
    skipped: list[str] = []
    moved = 0
    jsb: dict[str, list[Piece]] = {s: [] for s in SPLITS}
    tunes = None  # of the JSB pieces, worked out once, at the first music21 source
    for source in sorted(sources, key=lambda s: s.startswith("music21:")):  # the JSB files' tunes first
        if Path(source).suffix.lower() == ".json" and not source.startswith("music21:"):
            for split, pieces in _load_jsb(_existing(source), steps_per_beat).items():
                splits[split].extend(pieces)
                jsb[split].extend(pieces)
            continue
        if source.startswith("music21:") and tunes is None:
            tunes = _held_out_tunes(jsb)
        for name, loaded in _files_of(source, steps_per_beat, skipped, log):
            matrix, position, meter, voices = loaded
            own = _split_of(name)
            split = tunes.get(tune_key(voices), own) if voices is not None and tunes else own
            moved += split != own
            splits[split].append(Piece(name, matrix, voices, position=position, meter=meter))
    if moved:
        log(f"{moved} score{'s' if moved != 1 else ''} of the music21 corpus put in the split of the JSB piece "
            "with the same tune")
    _drop_short(splits, min_steps, skipped, log)
    if not splits["train"]:
        raise DataError("no usable piece in " + ", ".join(sources) + f" ({len(skipped)} skipped)")
    if not splits["valid"] and len(splits["train"]) > 1:  # a small folder: hold out one piece
        splits["valid"].append(splits["train"].pop())
    return Data(splits, skipped, list(sources))


def _existing(source: str) -> Path:
    root = Path(source)
    if not root.exists():
        raise DataError(f"{source}: no such file or folder")
    return root


def _files_of(source: str, steps_per_beat: int, skipped: list[str], log):
    """(name, (matrix, position, meter, voices)) of every usable file of a MIDI file or folder or a music21
    source; a file that cannot be used is logged and added to ``skipped``."""
    if source.startswith("music21:"):
        root, files = None, [(p, _load_music21) for p in _music21_files(source.split(":", 1)[1])]
    else:
        root = _existing(source)
        if root.is_dir():
            try:
                paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)
            except OSError as err:
                raise DataError(f"{source}: cannot read this folder ({err.strerror})") from err
            if not paths:
                raise DataError(f"{source}: no MIDI files (.mid, .midi) in this folder")
        else:
            paths = [root]
        files = [(p, _load_midi) for p in paths]
    for path, loader in files:
        try:
            loaded, note = loader(path, steps_per_beat)
        except OSError as err:
            loaded, note = None, f"cannot read ({err.strerror})"
        if loaded is None:
            skipped.append(f"{path}: {note}")
            log(f"skipped {path}: {note}")
            continue
        if note:
            log(f"note: {path}: {note}")
        yield (_music21_name(path) if root is None else str(path.relative_to(root)) if root.is_dir()
               else path.name), loaded


def _drop_short(splits: dict[str, list[Piece]], min_steps: int, skipped: list[str], log) -> None:
    """Pieces shorter than a training segment leave their split, with one line for them all."""
    short = {}
    for split in SPLITS:
        kept = []
        for p in splits[split]:
            if p.matrix.shape[0] < min_steps:
                skipped.append(f"{p.name}: shorter than {min_steps} steps")
                short[split] = short.get(split, 0) + 1
            else:
                kept.append(p)
        splits[split] = kept
    if short:  # one line for them all: a data set can hold hundreds
        n = sum(short.values())
        log(f"skipped {n} piece{'s' if n != 1 else ''} shorter than {min_steps} steps (a training segment): "
            + ", ".join(f"{n} {split}" for split, n in short.items()))


def transposed(matrix: np.ndarray, shift: int) -> np.ndarray:
    """(T, 78, 2) moved ``shift`` semitones up (down if negative); notes pushed off the range are dropped."""
    out = np.zeros_like(matrix)
    if shift > 0:
        out[:, shift:] = matrix[:, :-shift]
    elif shift < 0:
        out[:, :shift] = matrix[:, -shift:]
    else:
        out[:] = matrix
    return out


def home_key_shift(matrix: np.ndarray) -> int:
    """The shift (-5..+6 semitones) that brings a piece to the key signature of C major / A minor, by the
    best-fitting key of the whole piece (a minor key moves to A minor, its relative major to C)."""
    tonic, minor = key_of(pitch_class_histogram(matrix))
    major_tonic = (tonic + 3) % 12 if minor else tonic
    return key_shift(-major_tonic)


def to_home_key(data: Data) -> Data:
    """Every piece of every split moved to C major / A minor (``home_key_shift``)."""
    def moved(p: Piece) -> Piece:
        shift = home_key_shift(p.matrix)
        voices = None if p.voices is None else np.where(p.voices >= 0, p.voices + shift, -1).astype(np.int16)
        return dataclasses.replace(p, matrix=transposed(p.matrix, shift), voices=voices)

    splits = {s: [moved(p) for p in pieces] for s, pieces in data.splits.items()}
    return Data(splits, data.skipped, data.sources)


def minor_weights(pieces: list[Piece], minor_weight: float) -> np.ndarray | None:
    """(N,) chances of drawing each piece when a piece in a minor key (its whole-piece key) counts
    ``minor_weight`` times a major one; None for 1 (every piece alike)."""
    if minor_weight == 1:
        return None
    w = np.array([minor_weight if key and key[1] else 1.0 for key in piece_keys([p.matrix for p in pieces])])
    return w / w.sum()


def sample_batch(
    pieces: list[Piece],
    rng: np.random.Generator,
    batch_size: int,
    segment_steps: int,
    start_multiple: int = 16,
    transpose: int = 0,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random segments -> states (B, segment_steps, 78, 2) float32, steps (B, segment_steps) int64.
    ``weights`` (N,): each piece's chance of being drawn (default: alike)."""
    states = np.zeros((batch_size, segment_steps, N_NOTES, 2), np.float32)
    steps = np.zeros((batch_size, segment_steps), np.int64)
    for b in range(batch_size):
        m = pieces[rng.integers(len(pieces)) if weights is None else rng.choice(len(pieces), p=weights)].matrix
        n_starts = (m.shape[0] - segment_steps) // start_multiple + 1
        start = int(rng.integers(n_starts)) * start_multiple
        seg = m[start : start + segment_steps]
        shift = int(rng.integers(-transpose, transpose + 1)) if transpose else 0
        states[b] = transposed(seg, shift)
        steps[b] = start + np.arange(segment_steps)
    return states, steps
