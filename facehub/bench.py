"""``python -m facehub bench``: ms per image per stage and peak memory.

Each stage runs in its own subprocess (``python -m facehub.bench STAGE``) so
its peak resident memory is its own. Times are the median of ``repeats``
runs after two warm-up runs, with torch using every core. Task stages time the
model part (crop, network, paste-back) on faces the detector already found
(``predictor(image, faces=...)``), so detection is reported once, on its own;
``edit`` is end to end.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class StageReport:
    """One benchmark row: median and spread in ms, per image or per face, and peak RSS in MB."""

    stage: str
    unit: str
    median_ms: float
    p90_ms: float
    peak_mb: float
    note: str = ""


def _example(side: int) -> np.ndarray:
    from PIL import Image

    image = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")
    scale = side / max(image.size)
    return np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC))


def time_ms(function: Callable[[], object], repeats: int, warmup: int = 3) -> tuple[float, float]:
    """Median and 90th-percentile wall time of ``function()`` in ms over ``repeats`` calls after ``warmup`` calls
    (three: the first runs eagerly, the second makes the frozen trace, the third is its profiling run;
    ``facehub.nn.frozen``)."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.9 * len(samples)))]


def _task_stage(name: str, repeats: int) -> tuple[float, float, str]:
    import facehub

    image = _example(512)
    predictor = facehub.load(name)
    faces = predictor.detector(image).faces  # found once: the timed calls skip detection
    median, p90 = time_ms(lambda: predictor(image, faces=faces), repeats)
    return median / max(1, len(faces)), p90 / max(1, len(faces)), f"{len(faces)} face(s), 512 px photo"


def run_stage(stage: str, repeats: int) -> StageReport:
    """Run one stage in this process and report it."""
    import torch

    from facehub.device import set_cpu_threads

    set_cpu_threads()
    with torch.inference_mode():
        if stage.startswith("detect"):  # detect@SIDE (the default detector) or detect:NAME@SIDE
            from facehub.detection import load_detector

            head, side = stage.split("@")
            image = _example(int(side))
            detector = load_detector(head.split(":")[1] if ":" in head else None)
            median, p90 = time_ms(lambda: detector(image), repeats)
            found = len(detector(image).faces)
            report = StageReport(stage, "image", median, p90, 0.0, f"{image.shape[1]}x{image.shape[0]}, {detector.name}, {found} face(s)")
        elif stage.startswith("edit:"):
            import facehub
            from facehub.image import load_image

            editor = facehub.load("portrait-editor")
            source, target = load_image(EXAMPLES / "astronaut.jpg"), load_image(EXAMPLES / "grace_hopper.jpg")
            method = stage.split(":")[1]
            median, p90 = time_ms(lambda: editor(source, target, parts=("hair",), method=method), repeats)
            report = StageReport(stage, "edit", median, p90, 0.0, "hair, detection + parsing included")
        elif stage == "reference:mediapipe":
            import mediapipe as mp

            image = _example(512)
            mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
            median, p90 = time_ms(lambda: mesh.process(image), repeats)
            report = StageReport(stage, "face", median, p90, 0.0, "MediaPipe Face Mesh, detection included")
        else:
            median, p90, note = _task_stage(stage.split(":")[1], repeats)
            report = StageReport(stage, "face", median, p90, 0.0, note)
    report.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def default_stages() -> list[str]:
    """Detection at two sizes, every shipped task model, both edit methods, and MediaPipe if installed."""
    from facehub.hub import weights_root

    from facehub.registry import DEFAULTS, names_for_task

    stages = ["detect@512", "detect@2048"]
    for name in names_for_task("detection"):
        if name != DEFAULTS["detection"] and (weights_root() / name / "model.safetensors").is_file():
            stages += [f"detect:{name}@512", f"detect:{name}@2048"]
    for name, prefix in [("bisenet", "parse"), ("face-transformer", "parse"), ("pipnet", "landmarks"),
                         ("hourglass", "landmarks"), ("prnet", "reconstruct")]:
        if (weights_root() / name / "model.safetensors").is_file():
            stages.append(f"{prefix}:{name}")
    if (weights_root() / "bisenet" / "model.safetensors").is_file():
        stages.append("edit:blend")
        if (weights_root() / "portrait-editor" / "model.safetensors").is_file():
            stages.append("edit:gan")
    try:
        import mediapipe  # noqa: F401

        stages.append("reference:mediapipe")
    except ImportError:
        pass
    return stages


def run_bench(repeats: int = 20, stages: list[str] | None = None, device: str | None = None) -> str:
    """Run each stage in a subprocess and return a Markdown table."""
    rows = ["| stage | ms (median) | ms (p90) | per | peak RSS MB | note |", "|---|---|---|---|---|---|"]
    env = dict(os.environ, FACEHUB_DEVICE=device or os.environ.get("FACEHUB_DEVICE", "cpu"))
    medians: dict[str, float] = {}
    for stage in stages or default_stages():
        completed = subprocess.run(
            [sys.executable, "-m", "facehub.bench", stage, str(repeats)], capture_output=True, text=True, env=env
        )
        if completed.returncode != 0:
            rows.append(f"| {stage} | failed | | | | {completed.stderr.strip().splitlines()[-1][:120] if completed.stderr.strip() else ''} |")
            continue
        report = StageReport(**json.loads(completed.stdout.strip().splitlines()[-1]))
        medians[report.stage] = report.median_ms
        rows.append(
            f"| {report.stage} | {report.median_ms:.1f} | {report.p90_ms:.1f} | {report.unit} | {report.peak_mb:.0f} | {report.note} |"
        )
    threads = os.environ.get("FACEHUB_THREADS") or os.cpu_count()
    footer = f"{os.cpu_count()} CPU cores, torch threads: {threads}, device: {env['FACEHUB_DEVICE']}"
    return "\n".join(rows) + "\n\n" + "\n".join(filter(None, [footer, end_to_end_ratio(medians)]))


def end_to_end_ratio(medians: dict[str, float]) -> str:
    """Landmarks end to end per face against MediaPipe Face Mesh in the same run, from the stages' median ms:
    ``(detect@512 + landmarks:pipnet) / reference:mediapipe``; "" unless the three stages ran."""
    names = ("detect@512", "landmarks:pipnet", "reference:mediapipe")
    if not all(name in medians for name in names):
        return ""
    detect, landmarks, reference = (medians[name] for name in names)
    return (f"end to end landmarks per face vs MediaPipe: (detect@512 + landmarks:pipnet) / reference:mediapipe = "
            f"({detect:.1f} + {landmarks:.1f}) / {reference:.1f} = {(detect + landmarks) / reference:.2f}x")


if __name__ == "__main__":
    print(json.dumps(run_stage(sys.argv[1], int(sys.argv[2])).__dict__))
