"""Landmark evaluation through the full pipeline (our detector's boxes), shared by scripts and tests.

Each labelled face is matched to the detected face whose box overlaps the ground truth's point box best
(IoU >= 0.3); no match is a miss, counted as a failure (``inf`` NME). ``evaluate_folder`` returns NME
(inter-ocular, outer eye corners, mean over the faces found), failure rate at 0.10 (misses included),
AUC at 0.10, misses and ms per face of the landmark stage, plus per-image errors.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facehub.detection.result import Face
from facehub.geometry.align import transform_points
from facehub.geometry.landmarks68 import OUTER_EYE_CORNERS, to_68
from facehub.image import load_image
from facehub.train.data.ytf68 import LandmarkSample
from facehub.train.eval.metrics import box_iou, landmark_summary


def matched_face(faces: list[Face], points: np.ndarray, min_iou: float = 0.3) -> Face | None:
    """The detected face whose box overlaps the labelled points' box (``points`` (N, 2)) best; None below ``min_iou``."""
    box = np.r_[points.min(0), points.max(0)]
    ious = [box_iou(f.box, box) for f in faces]
    return faces[int(np.argmax(ious))] if ious and max(ious) >= min_iou else None


def load_landmark_predictor(model: str = "pipnet", weights: str | Path | None = None, **options):
    """The predictor of checkpoint ``model``, or of a ``save_pretrained`` folder ``weights`` (e.g. runs/pipnet/best)."""
    from facehub.hub import load_folder
    from facehub.landmarks.predictor import LandmarkPredictor

    if weights is None:
        return LandmarkPredictor.from_pretrained(model, device="cpu", **options)
    return LandmarkPredictor(load_folder(weights), device="cpu", **options)


def detect_all(detector, samples: list[LandmarkSample], cache: Path | None = None) -> dict[str, list[dict]]:
    """Detector output (``Face.to_json()`` lists) per image name, read from / written to ``cache`` (JSON) when given."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())
    from tqdm import tqdm

    found = {}
    for sample in tqdm(samples, disable=not sys.stderr.isatty(), desc="detect"):
        found[sample.path.name] = [f.to_json() for f in detector(load_image(sample.path)).faces]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(found))
    return found


@dataclass
class LandmarkScores:
    """``summary``: NME, failure rate, AUC, misses, ms per face (see ``landmark_summary``); ``per_image``: NME or None (missed);
    ``per_point``: (F, N) each found face's point errors over the same normaliser as its NME (mean over axis 1 = NME)."""

    summary: dict[str, float | str | int | bool]
    per_image: dict[str, float | None] = field(default_factory=dict)
    per_point: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def to_json(self) -> dict:
        """Summary, per-image NMEs and the mean error per point index (for ``scripts/plot_landmark_errors.py``)."""
        mean = self.per_point.mean(0) if len(self.per_point) else []
        return {"summary": self.summary, "per_image": self.per_image, "per_point_mean": [round(float(v), 5) for v in mean]}


def _ground_truth(predictor, sample: LandmarkSample) -> np.ndarray:
    return to_68(sample.points) if predictor.loaded.config.get("num_points", 68) == 68 else sample.points


def point_errors(pred: np.ndarray, target: np.ndarray, normalise: str = "interocular") -> np.ndarray:
    """(N,) distances between ``pred`` and ``target`` (N, 2) over the normaliser: ``"box"``, the square root of the
    area of ``target``'s point box (AFLW2000-3D, where a profile's inter-ocular distance is near 0), or
    ``"interocular"``, the outer eye corners' distance (300-W, ``metrics.nme``). Their mean is the NME."""
    if normalise == "box":
        size = np.sqrt(np.prod(target.max(0) - target.min(0)))
    else:
        a, b = OUTER_EYE_CORNERS[len(target)]
        size = np.linalg.norm(target[a] - target[b])
    return np.linalg.norm(pred - target, axis=1) / max(float(size), 1e-6)


def box_nme(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean point error of ``pred`` (N, 2) over the square root of the area of ``target``'s (N, 2) point box
    (the AFLW2000-3D convention, where the inter-ocular distance of a profile is near 0)."""
    return float(point_errors(pred, target, "box").mean())


def evaluate_folder(predictor, samples: list[LandmarkSample], detections: dict[str, list[dict]],
                    normalise: str = "interocular") -> LandmarkScores:
    """Score ``predictor`` on ``samples`` using the detector output ``detections`` (as from ``detect_all``);
    ``normalise``: ``"interocular"`` (outer eye corners, 300-W) or ``"box"`` (``box_nme``, AFLW2000-3D)."""
    from tqdm import tqdm

    errors, per_image, landmark_ms, per_point = [], {}, [], []
    for sample in tqdm(samples, disable=not sys.stderr.isatty()):
        faces = [Face(np.array(f["box"]), f["score"], np.array(f["points"])) for f in detections.get(sample.path.name, [])]
        gt = _ground_truth(predictor, sample)
        face = matched_face(faces, gt)
        if face is None:
            errors.append(np.inf)
            per_image[sample.path.name] = None
            continue
        image = load_image(sample.path)
        start = time.perf_counter()
        points, *_ = predictor.locate(image, face.points[None])
        landmark_ms.append((time.perf_counter() - start) * 1000)
        pred = to_68(points[0]) if len(gt) == 68 else points[0]
        per_point.append(point_errors(pred, gt, normalise))
        errors.append(float(per_point[-1].mean()))
        per_image[sample.path.name] = round(errors[-1], 5)
    summary = landmark_summary(np.asarray(errors))
    summary["landmark_ms_per_face_median"] = float(np.median(landmark_ms)) if landmark_ms else float("nan")
    summary["landmark_ms_per_face_mean"] = float(np.mean(landmark_ms)) if landmark_ms else float("nan")
    summary["refine_passes"] = predictor.refine_passes
    summary["refine_min_shift"] = predictor.refine_min_shift
    summary["flip_test"] = predictor.flip_test
    return LandmarkScores(summary, per_image, np.asarray(per_point).reshape(len(per_point), -1))


def crop_residuals(predictor, samples: list[LandmarkSample]) -> np.ndarray:
    """(F, N, 2) prediction - label in crop pixels for the faces the detector finds (``matched_face``)."""
    residuals = []
    for sample in samples:
        image = load_image(sample.path)
        gt = _ground_truth(predictor, sample)
        face = matched_face(predictor.detector(image).faces, gt)
        if face is None:
            continue
        _, _, crop_points, matrices = predictor.locate(image, face.points[None])
        residuals.append(crop_points[0] - transform_points(gt, matrices[0]))
    return np.stack(residuals)


YAW_BINS = ("[0,30)", "[30,60)", "[60,90]")  # AFLW2000-3D's; a |yaw| above 90 counts in the last


def nme_by_yaw(per_image: dict[str, float | None], folder: Path) -> dict[str, dict[str, float | int | None]] | None:
    """Mean NME of the faces found per |yaw| bin, the yaw read from each image's AFLW2000-3D ``.mat``
    (``Pose_Para``, radians) beside it in ``folder``; None when the folder has no such files."""
    from scipy.io import loadmat

    bins: dict[str, list[float]] = {name: [] for name in YAW_BINS}
    missed = dict.fromkeys(bins, 0)
    for name, error in per_image.items():
        mat = Path(folder) / Path(name).with_suffix(".mat")
        if not mat.is_file():
            return None
        yaw = abs(np.degrees(float(np.asarray(loadmat(str(mat))["Pose_Para"]).ravel()[1])))
        key = YAW_BINS[min(int(yaw // 30), 2)]
        if error is None:
            missed[key] += 1
        else:
            bins[key].append(error)
    return {k: {"nme": round(float(np.mean(v)), 5) if v else None, "faces": len(v), "missed": missed[k]} for k, v in bins.items()}
