"""Score a landmark checkpoint through the full pipeline (our detector's boxes) on a labelled folder.

    python scripts/evaluate_landmarks.py --model pipnet --data ../shared/data/ytf68 --split val
    python scripts/evaluate_landmarks.py --weights runs/pipnet/best --data /path/to/300W/ibug --refine-passes 1

Folders: a ``*.csv`` in the ytf68 layout (``image, x0, y0, ...``), WFLW's
``list_98pt_rect_attr_*.txt`` + ``WFLW_images/``, or images with ``.pts`` beside them.
Each labelled face is matched to the detected face whose box overlaps the
ground truth's point box best (IoU >= 0.3); no match is a miss, counted as a
failure (``inf`` NME). Prints NME (inter-ocular, outer eye corners, mean over
the faces found), failure rate at 0.10 (misses included), AUC at 0.10, misses,
and ms per face of the landmark stage; ``--out`` writes per-image errors as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.detection.result import Face  # noqa: E402
from facehub.geometry.landmarks68 import to_68  # noqa: E402
from facehub.image import load_image  # noqa: E402
from facehub.train.data import data_root  # noqa: E402
from facehub.train.data.landmark_files import read_labelled_folder  # noqa: E402
from facehub.train.data.ytf68 import split_by_person  # noqa: E402
from facehub.train.eval.metrics import box_iou, landmark_summary, nme  # noqa: E402


def matched_face(faces: list[Face], points: np.ndarray, min_iou: float = 0.3) -> Face | None:
    """The detected face whose box overlaps the labelled points' box (``points`` (N, 2)) best; None below ``min_iou``."""
    box = np.r_[points.min(0), points.max(0)]
    ious = [box_iou(f.box, box) for f in faces]
    return faces[int(np.argmax(ious))] if ious and max(ious) >= min_iou else None


def build_predictor(args: argparse.Namespace):
    from facehub.hub import LoadedModel, load_state_dict_strict, read_config
    from facehub.landmarks.predictor import LandmarkPredictor
    from facehub.registry import build_model

    if args.weights is None:
        return LandmarkPredictor.from_pretrained(args.model, device="cpu", refine_passes=args.refine_passes, flip_test=args.flip_test)
    folder = Path(args.weights)
    config = read_config(folder, str(folder))
    model = build_model(config["family"], config["model_args"])
    load_state_dict_strict(model, folder / "model.safetensors", str(folder))
    loaded = LoadedModel(folder.name, model.eval(), config, folder)
    return LandmarkPredictor(loaded, device="cpu", refine_passes=args.refine_passes, flip_test=args.flip_test)


def detect_all(predictor, samples, cache: Path | None) -> dict[str, list[dict]]:
    """Detector output per image name, read from / written to ``cache`` (JSON) when given."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())
    from tqdm import tqdm

    found = {}
    for sample in tqdm(samples, disable=not sys.stderr.isatty(), desc="detect"):
        found[sample.path.name] = [f.to_json() for f in predictor.detector(load_image(sample.path)).faces]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(found))
    return found


def evaluate(args: argparse.Namespace) -> dict:
    samples = read_labelled_folder(args.data or data_root() / "ytf68")
    if args.split != "all":
        train, val = split_by_person(samples, args.val_fraction, args.seed)
        samples = val if args.split == "val" else train
    samples = samples[: args.limit] if args.limit else samples
    predictor = build_predictor(args)
    errors, per_image, landmark_ms = [], {}, []
    from tqdm import tqdm

    detections = detect_all(predictor, samples, args.detections)
    for sample in tqdm(samples, disable=not sys.stderr.isatty()):
        image = load_image(sample.path)
        faces = [Face(np.array(f["box"]), f["score"], np.array(f["points"])) for f in detections.get(sample.path.name, [])]
        gt = to_68(sample.points) if predictor.loaded.config.get("num_points", 68) == 68 else sample.points
        face = matched_face(faces, gt)
        if face is None:
            errors.append(np.inf)
            per_image[sample.path.name] = None
            continue
        start = time.perf_counter()
        points, *_ = predictor.locate(image, face.points[None])
        landmark_ms.append((time.perf_counter() - start) * 1000)
        pred = to_68(points[0]) if len(gt) == 68 else points[0]
        error = float(nme(pred, gt)[0])
        errors.append(error)
        per_image[sample.path.name] = round(error, 5)
    summary = landmark_summary(np.asarray(errors))
    summary["landmark_ms_per_face_median"] = float(np.median(landmark_ms)) if landmark_ms else float("nan")
    summary["model"] = args.weights or args.model
    summary["refine_passes"] = predictor.refine_passes
    summary["flip_test"] = predictor.flip_test
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "per_image": per_image}, indent=2))
    return summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="pipnet", help="checkpoint name (weights/<name>/ or the Hub)")
    p.add_argument("--weights", default=None, help="a checkpoint folder instead of --model (e.g. runs/pipnet/best)")
    p.add_argument("--data", type=Path, default=None, help="labelled folder (default: data_root()/ytf68)")
    p.add_argument("--split", choices=["all", "val", "train"], default="all", help="ytf68 person split to score")
    p.add_argument("--val-fraction", type=float, default=0.12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refine-passes", type=int, default=None, help="default: the checkpoint's config")
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=None,
                   help="average with the mirrored crop (default: the checkpoint's config)")
    p.add_argument("--detections", type=Path, default=None, help="JSON cache of the detector's faces per image")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    summary = evaluate(args)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
