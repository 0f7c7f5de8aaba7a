"""Record (or check) what the CLI writes for the example photos: the regression baseline of tests/test_cli_golden.py.

    python scripts/record_cli_outputs.py            # rewrite tests/golden/ from the current code
    python scripts/record_cli_outputs.py --check    # compare the current code with tests/golden/

Run it before a refactor that must not change behaviour; the test then checks the refactored code against it.
The summary keeps boxes, points, 3D points and poses (compared to 1e-3 px / degrees), each parsing map
as a class-index PNG (compared pixel by pixel: at most 0.1% may differ), and a 64 px thumbnail of each edit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
EXAMPLES = [REPO / "examples" / name for name in ("astronaut.jpg", "grace_hopper.jpg", "two_people.jpg")]
PARSERS = ("bisenet", "face-transformer")
LANDMARKERS = ("pipnet", "hourglass")
# (parts, method, source, target) by index into EXAMPLES: hair moves from the astronaut (her hair is plain to see)
# onto Grace Hopper; the editor refuses Hopper's hair as a source (it is mostly under her cap: tests/editing)
EDITS = (("hair", "blend", 0, 1), ("eyes,mouth", "blend", 1, 0), ("hair", "gan", 0, 1))


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "facehub", "--device", "cpu", *args], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)


def record(out: Path) -> dict:
    """Run the CLI into ``out`` and return the summary; parsing maps and edit thumbnails are written to ``out``."""
    images = [str(p) for p in EXAMPLES]
    summary: dict = {}
    cli("detect", *images, "--out", str(out / "detect.json"))
    summary["detect"] = json.loads((out / "detect.json").read_text())
    for name in LANDMARKERS:
        cli("landmarks", *images, "--out", str(out / f"landmarks_{name}.json"), "--model", name)
        summary[f"landmarks:{name}"] = json.loads((out / f"landmarks_{name}.json").read_text())
    for name in PARSERS:
        cli("parse", *images, "--out", str(out / f"parse_{name}"), "--model", name)
        summary[f"parse:{name}:labels"] = json.loads((out / f"parse_{name}" / "labels.json").read_text())
    cli("reconstruct", *images, "--out", str(out / "reconstruct"))
    summary["reconstruct"] = {p.stem: json.loads((out / "reconstruct" / f"{p.stem}.json").read_text()) for p in EXAMPLES}
    for parts, method, source, target_photo in EDITS:
        target = out / f"edit_{parts.replace(',', '+')}_{method}.png"
        cli("edit", "--source", images[source], "--target", images[target_photo], "--parts", parts, "--method", method,
            "--out", str(target))
        Image.open(target).convert("RGB").resize((64, 64), Image.BILINEAR).save(target)
    return summary


def write_golden() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        summary = record(out)
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "cli_summary.json").write_text(json.dumps(summary, indent=1))
        for name in PARSERS:
            for p in EXAMPLES:
                (out / f"parse_{name}" / f"{p.stem}.png").replace(GOLDEN / f"parse_{name}_{p.stem}.png")
        for thumb in out.glob("edit_*.png"):
            thumb.replace(GOLDEN / thumb.name)
    print(f"wrote {GOLDEN}")


# How far a written number may move: points, boxes and angles are written rounded to 0.01 px (deg), and float noise
# (thread count, CPU kernels) can flip one rounding step; scores (rounded to 1e-4) keep the old 1e-3; a change in
# what the code computes moves either by far more. Integers (pixel counts) must match.
TOLERANCE = {"score": 1e-3}
ROUNDED_TOLERANCE = 0.015


def excess_difference(a, b, key: str | None = None) -> float:
    """Largest absolute difference between two JSON trees of the same shape, over its key's tolerance (``TOLERANCE``;
    > 1 is a problem; inf if the shapes differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return float("inf")
        return max([excess_difference(a[k], b[k], k) for k in a] or [0.0])
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return float("inf")
        return max([excess_difference(x, y, key) for x, y in zip(a, b)] or [0.0])
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        tolerance = TOLERANCE.get(key, ROUNDED_TOLERANCE if isinstance(a, float) or isinstance(b, float) else 1e-3)
        return abs(float(a) - float(b)) / tolerance
    return 0.0 if a == b else float("inf")


def compare(out: Path, summary: dict) -> list[str]:
    """Differences between a fresh run (``out``, ``summary``) and tests/golden/, as readable lines."""
    problems = []
    golden = json.loads((GOLDEN / "cli_summary.json").read_text())
    for key in golden:
        excess = excess_difference(golden[key], summary.get(key))
        if excess > 1:
            problems.append(f"{key}: a number moved {excess:.3g}x its tolerance")
    for name in PARSERS:
        for p in EXAMPLES:
            old = np.asarray(Image.open(GOLDEN / f"parse_{name}_{p.stem}.png"))
            new = np.asarray(Image.open(out / f"parse_{name}" / f"{p.stem}.png"))
            changed = float((old != new).mean()) if old.shape == new.shape else 1.0
            if changed > 1e-3:
                problems.append(f"parse {name} {p.name}: {changed:.2%} of pixels changed")
    for thumb in GOLDEN.glob("edit_*.png"):
        old = np.asarray(Image.open(thumb), dtype=np.float64)
        new = np.asarray(Image.open(out / thumb.name), dtype=np.float64)
        if np.abs(old - new).mean() > 1.0:
            problems.append(f"{thumb.name}: mean difference {np.abs(old - new).mean():.2f} grey levels")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not args.check:
        write_golden()
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        problems = compare(Path(tmp), record(Path(tmp)))
    print("\n".join(problems) or "CLI outputs match tests/golden/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
