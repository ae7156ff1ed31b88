"""A plain `pip install` (a wheel, not this checkout) must carry the shipped model and play it."""

import shutil
import site
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from tests.conftest import ROOT

# what a wheel is built from (the rest of the checkout is tests, benchmarks and run folders)
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "live_biaxial", "training", "exported")


def dependency_paths() -> list[str]:
    """Where this Python imports installed packages from (a venv's site-packages inside one, else the system's)."""
    paths = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    return [p for p in paths if Path(p).is_dir()]


def pip_can_target() -> bool:
    """pip 22.3 and later install into another environment with --python."""
    import pip

    return tuple(int(x) for x in pip.__version__.split(".")[:2]) >= (22, 3)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A wheel built from a copy of the sources, installed in a fresh venv (no index). The venv sees the
    dependencies where this Python finds them: its site-packages, be it a venv's or the system's, listed in a
    .pth file (whose own .pth files, such as this checkout's editable install, are not read). Returns (venv
    python, a working folder outside the checkout)."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, src / name)
    run = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp)  # noqa: E731
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src)
    assert built.returncode == 0, built.stderr
    venv = tmp / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python = venv / "bin" / "python"
    venv_site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    (Path(venv_site) / "dependencies.pth").write_text("\n".join(dependency_paths()) + "\n")
    wheel = next((tmp / "dist").glob("live_biaxial-*.whl"))
    done = run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel) \
        if pip_can_target() else run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    assert done.returncode == 0, done.stderr
    work = tmp / "work"
    work.mkdir()
    return python, work, wheel


def test_the_wheel_is_what_runs(installed):
    python, work, _ = installed
    where = subprocess.run([python, "-c", "import live_biaxial; print(live_biaxial.__file__)"],
                           capture_output=True, text=True, cwd=work, timeout=60)
    assert str(python.parents[1]) in where.stdout, where.stdout + where.stderr  # the venv's copy, not the checkout


def test_an_installed_wheel_generates_with_the_shipped_model(installed):
    python, work, _ = installed
    out = work / "demo.mid"
    done = subprocess.run([python, "-m", "live_biaxial", "generate", "--bars", "2", "--out", out],
                          capture_output=True, text=True, cwd=work, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "model default.onnx" in done.stdout
    notes = [m for m in mido.MidiFile(out).play() if m.type == "note_on" and m.velocity > 0]
    assert notes, "the shipped model wrote no notes"


def test_the_model_card_travels_with_the_model(installed):
    python, work, _ = installed
    card = subprocess.run([python, "-c", "import live_biaxial.model_file as m; "
                           "print((m.DEFAULT_MODEL.parent / 'MODEL_CARD.md').read_text()[:40])"],
                          capture_output=True, text=True, cwd=work, timeout=60)
    assert card.stdout.startswith("# Model card"), card.stdout + card.stderr


def test_the_wheel_installs_packages_under_the_project_s_name_only(installed):
    import zipfile

    _, _, wheel = installed
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    # the instrument, and its training code apart (torch), both under the project's name: no top-level "training"
    assert {t for t in top if not t.endswith(".dist-info")} == {"live_biaxial", "live_biaxial_training"}
    assert "live_biaxial_training/model.py" in zipfile.ZipFile(wheel).namelist()
