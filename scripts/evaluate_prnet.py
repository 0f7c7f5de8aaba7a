"""Evaluate PRNet end to end (the default detector -> crop -> UV map -> 68 points): NME normalised by sqrt(GT box area).

    # AFLW2000-3D (official layout: image00002.jpg + image00002.mat with pt3d_68), for users who have it
    python scripts/evaluate_prnet.py --aflw2000 /data/AFLW2000 --model prnet
    # our held-out split: ytf68's held-out people (real 2D labels) and the teacher's 68-mapped points
    python scripts/evaluate_prnet.py --heldout --checkpoint runs/prnet/best.pt --limit 200

The face scored is the detection whose box overlaps the ground-truth box
most; an image where no face overlaps counts as missed (reported, and left
out of the mean). The NME box is the 2D bounding box of the 68 GT points;
AFLW2000-3D results are also split by the |yaw| bins [0, 30), [30, 60), [60, 90], and give the head-pose
MAE per axis (pitch, yaw, roll, degrees) against `Pose_Para` on the faces found, overall, by |yaw| bin and
as a mean signed error (a constant offset between conventions shows there).
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
from facehub.image import load_image  # noqa: E402
from facehub.reconstruction.predictor import FaceReconstructor  # noqa: E402
from facehub.reconstruction.uv import points_468_to_68  # noqa: E402
from facehub.train.eval.metrics import box_iou  # noqa: E402
from facehub.train.reconstruction.losses import box_nme  # noqa: E402


def match_face(model: FaceReconstructor, image: np.ndarray, gt: np.ndarray):
    """The reconstructed face (``ReconstructedFace``) best matching ``gt`` (68, 2), or None; and the seconds spent."""
    start = time.perf_counter()
    result = model(image)
    seconds = time.perf_counter() - start
    gt_box = np.array([*gt[:, :2].min(0), *gt[:, :2].max(0)])
    best, best_iou = None, 0.05
    for face in result.faces:
        overlap = box_iou(np.asarray(face.box, dtype=np.float64), gt_box)
        if overlap > best_iou:
            best, best_iou = face, overlap
    return best, seconds


def predict_68(model: FaceReconstructor, image: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray | None, float]:
    """The 68 points of the face best matching ``gt`` (68, 2), or None; and the seconds spent."""
    face, seconds = match_face(model, image, gt)
    return (None if face is None else face.landmarks3d), seconds


def summarise(errors: list[float], missed: int, seconds: list[float]) -> dict:
    e = np.asarray(errors)
    return {
        "faces": len(e) + missed,
        "missed": missed,
        "nme_mean": round(float(e.mean()), 5) if len(e) else None,
        "nme_median": round(float(np.median(e)), 5) if len(e) else None,
        "ms_per_image": round(1000 * float(np.median(seconds)), 1) if seconds else None,
    }


def evaluate_aflw2000(model: FaceReconstructor, root: Path, limit: int) -> dict:
    from scipy.io import loadmat

    bins: dict[str, list[float]] = {"[0,30)": [], "[30,60)": [], "[60,90]": []}
    pose_bins: dict[str, list[np.ndarray]] = {k: [] for k in bins}
    errors, seconds, missed, pose_errors = [], [], 0, []
    for jpg in sorted(root.glob("*.jpg"))[: limit or None]:
        mat = loadmat(str(jpg.with_suffix(".mat")))
        gt = np.asarray(mat["pt3d_68"], dtype=np.float64)[:2].T  # (68, 2)
        face, sec = match_face(model, load_image(jpg), gt)
        seconds.append(sec)
        if face is None:
            missed += 1
            continue
        err = float(box_nme(face.landmarks3d, gt))
        if "Pose_Para" in mat:  # pitch, yaw, roll in radians; our JSON uses the same signs (POSE_CONVENTION)
            truth = np.degrees(np.asarray(mat["Pose_Para"], dtype=np.float64).ravel()[:3])
            pose_errors.append(np.array([face.pose.pitch, face.pose.yaw, face.pose.roll]) - truth)
        errors.append(err)
        yaw = abs(np.degrees(float(np.asarray(mat["Pose_Para"]).ravel()[1]))) if "Pose_Para" in mat else 0.0
        name = "[0,30)" if yaw < 30 else "[30,60)" if yaw < 60 else "[60,90]"
        bins[name].append(err)
        if "Pose_Para" in mat:
            pose_bins[name].append(pose_errors[-1])
    report = summarise(errors, missed, seconds)
    report["by_yaw"] = {k: round(float(np.mean(v)), 5) if v else None for k, v in bins.items()}
    if pose_errors:
        report["pose_mae_pitch_yaw_roll_deg"] = [round(float(v), 2) for v in np.abs(pose_errors).mean(0)]
        report["pose_mae_deg"] = round(float(np.abs(pose_errors).mean()), 2)
        report["pose_mean_signed_error_deg"] = [round(float(v), 2) for v in np.mean(pose_errors, 0)]  # a constant offset shows here
        report["pose_mae_by_yaw_deg"] = {k: round(float(np.abs(v).mean()), 2) if v else None for k, v in pose_bins.items()}
    return report


def evaluate_heldout(model: FaceReconstructor, limit: int, datasets: tuple[str, ...] = ("ytf68", "celebamask_hair_val")) -> dict:
    """ytf68 held-out people (real labels, and the teacher's mapped points) + CelebAMask-HQ val (teacher)."""
    from facehub.train.data.teacher import load_teacher_cache
    from facehub.train.data.ytf68 import read_ytf68
    from facehub.train.reconstruction.dataset import ytf68_val_people

    held = ytf68_val_people()
    labels = {s.path.name: s for s in read_ytf68() if s.person in held}
    reports = {}
    for dataset in datasets:
        cache = load_teacher_cache(dataset)
        names = [str(n) for n in cache.names if dataset != "ytf68" or str(n) in labels]
        if limit:  # spread over the people, not the first few
            names = names[:: max(1, len(names) // limit)][:limit]
        index = {str(n): i for i, n in enumerate(cache.names)}
        vs_teacher, vs_real, teacher_vs_real, seconds, missed = [], [], [], [], 0
        for name in names:
            teacher = cache.points[index[name]]
            teacher68 = None if np.isnan(teacher[0, 0]) else points_468_to_68(teacher.astype(np.float64))
            real = labels[name].points if dataset == "ytf68" else None
            gt_for_match = real if real is not None else teacher68
            if gt_for_match is None:
                continue
            pred, sec = predict_68(model, load_image(cache.image_dir / name), gt_for_match)
            seconds.append(sec)
            if pred is None:
                missed += 1
                continue
            if teacher68 is not None:
                vs_teacher.append(float(box_nme(pred, teacher68)))
            if real is not None:
                vs_real.append(float(box_nme(pred, real)))
                if teacher68 is not None:
                    teacher_vs_real.append(float(box_nme(teacher68, real)))
        reports[dataset] = {"vs_teacher_68": summarise(vs_teacher, missed, seconds)}
        if vs_real:
            reports[dataset]["vs_real_labels"] = summarise(vs_real, missed, seconds)
            reports[dataset]["teacher_vs_real_labels"] = summarise(teacher_vs_real, 0, [])
    return reports


def _exported(path: Path) -> bool:
    """Whether ``path`` is an exported folder (its config.json carries the model's own 468 -> 68 map), not a training checkpoint."""
    config = path / "config.json"
    return config.is_file() and "map_68" in json.loads(config.read_text())


def load_reconstructor(args: argparse.Namespace) -> FaceReconstructor:
    if not args.checkpoint or _exported(Path(args.checkpoint)):  # shipped or exported: its own config applies
        if args.checkpoint:
            from facehub.hub import load_folder

            model = FaceReconstructor(load_folder(args.checkpoint), device="cpu")
        else:
            model = FaceReconstructor.from_pretrained(args.model)
        if args.refine_passes >= 0:
            model.refine_passes = args.refine_passes
        if args.refine_min_shift >= 0:
            model.refine_min_shift = args.refine_min_shift
        if args.flip_test != "config":
            model.flip_test = args.flip_test == "on"
        if args.profile_jaw == "off":
            model.profile_jaw = None
        if args.landmarks == "off":
            model.landmarker = None
        return model
    from facehub.hub import LoadedModel
    from facehub.train.reconstruction.checkpoint import (
        checkpoint_config,
        read_checkpoint,
    )

    ckpt = read_checkpoint(args.checkpoint)
    config = checkpoint_config(ckpt.model_args, ckpt.crop, ckpt.uv_size)
    loaded = LoadedModel("prnet", ckpt.model, config, Path(args.checkpoint).parent)
    return FaceReconstructor(loaded, refine_passes=max(args.refine_passes, 0), flip_test=args.flip_test == "on",
                             refine_min_shift=max(args.refine_min_shift, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="prnet", help="checkpoint name (weights/<name>/ or the Hub)")
    parser.add_argument("--checkpoint", default="", help="a training checkpoint (best.pt, last.pt or a best/ folder; an exported folder keeps its config) instead of --model")
    parser.add_argument("--aflw2000", type=Path, help="folder with AFLW2000-3D .jpg + .mat")
    parser.add_argument("--heldout", action="store_true", help="our held-out split")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--datasets", default="ytf68,celebamask_hair_val", help="held-out sets, comma-separated")
    parser.add_argument("--refine-passes", type=int, default=-1, help="override the config's refine_passes")
    parser.add_argument("--refine-min-shift", type=float, default=-1.0,
                        help="override the config's refine_min_shift (refine only faces whose crop moves more than this share)")
    parser.add_argument("--flip-test", choices=["config", "on", "off"], default="config",
                        help="average with the mirrored crop (default: as the checkpoint's config says)")
    parser.add_argument("--profile-jaw", choices=["config", "off"], default="config",
                        help="off: the 68 points' jaw as the 468 -> 68 map reads it, also on turned faces (default: the config's profile_jaw)")
    parser.add_argument("--landmarks", choices=["config", "off"], default="config",
                        help="off: the mesh's own 68 points, not averaged with the config's landmark model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_reconstructor(args)
    report: dict = {"model": args.checkpoint or args.model, "refine_passes": model.refine_passes,
                    "refine_min_shift": model.refine_min_shift, "flip_test": model.flip_test,
                    "profile_jaw": model.profile_jaw.to_config() if model.profile_jaw else None,
                    "landmarks": model.landmarker.name if model.landmarker else None}
    with torch.inference_mode():
        if args.aflw2000:
            report["aflw2000_3d"] = evaluate_aflw2000(model, args.aflw2000, args.limit)
        if args.heldout or not args.aflw2000:
            report["heldout"] = evaluate_heldout(model, args.limit, tuple(args.datasets.split(",")))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
