"""The release check: the wheel built from this repository carries the bundled model (and no
training text), and `Detector.load()` works from that wheel in a fresh virtualenv with no
repository beside it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_the_model_and_loads_it_from_a_clean_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("lovelorn_monitor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    model = {n.removeprefix("monitor/bundled_model/") for n in names if "bundled_model/" in n}
    assert model == {
        "inference.json",
        "inference.pdiparams.fp16",  # float16 weights: widened into the cache when loaded
        "manifest.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.txt",
    }
    assert wheel.stat().st_size <= 60 * 2**20  # the pretrained encoder fits a 60 MB wheel
    assert not any(n.endswith(("split.jsonl", ".tsv")) or "/report/" in n for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # the wheel's own files, unpacked as pip would; its dependencies (Paddle, 2 GB) are lent
    # by the project's virtualenv through a path entry, whose editable hook is not run
    zipfile.ZipFile(wheel).extractall(site)
    (site / "lent-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import monitor; from monitor import Detector; "
            "d = Detector.load(); r = d(['分手三个月了，还是忘不了他', '春天来了，樱花都开了', '']); "
            "print(monitor.__file__); print(' '.join(f'{x.score:.4f}' for x in r))",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    where, scores = done.stdout.strip().splitlines()[-2:]
    assert where.startswith(str(site)), where  # the wheel's code, not the repository's
    heartbreak, spring, blank = map(float, scores.split())
    assert heartbreak > spring and blank == 0.0
