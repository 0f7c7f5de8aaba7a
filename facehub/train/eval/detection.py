"""Detector recall on labelled photo sets: missed faces and extra boxes (the detection cards' numbers).

A labelled face is found when some box overlaps the box of its 68 labelled points with IoU > ``MATCH_IOU``
(unlabelled sets, one person per photo: any box). Extra boxes are every other box: false faces, and other
people in the photo (who are not labelled).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facehub.train.data import data_root
from facehub.train.eval.metrics import box_iou

MATCH_IOU = 0.3

BoxesOf = Callable[[np.ndarray], np.ndarray]  # (H, W, 3) uint8 RGB -> (F, 4) boxes x0, y0, x1, y1


@dataclass(frozen=True)
class LabelledPhoto:
    """A photo and the box (4,) ``x0, y0, x1, y1`` of its labelled face's 68 points (None: unlabelled, one face)."""

    path: Path
    truth: np.ndarray | None


@dataclass
class SetScore:
    """Per-photo hits (True: the labelled face was found) and the number of extra boxes, over one set."""

    hits: list[bool] = field(default_factory=list)
    extra: int = 0

    @property
    def missed(self) -> int:
        return len(self.hits) - sum(self.hits)

    def cell(self) -> str:
        """``"missed / extra"``, as the cards print it."""
        return f"{self.missed} / {self.extra}"


def _box(points: np.ndarray) -> np.ndarray:
    return np.r_[points.min(0), points.max(0)]


def labelled_sets(
    root: Path | None = None, ytf_step: int = 4, celeba: str = "celebamask19"
) -> dict[str, list[LabelledPhoto]]:
    """The detection sets under ``root`` (default ``data_root()``): AFLW2000-3D val (yaw to 90), 300-W AFW
    crops, every ``ytf_step``-th ytf68 frame, CelebA-HQ val (``celeba``/val/images: celebamask19's 100 photos or
    celebamask_hair's 153; unlabelled)."""
    import scipy.io

    from facehub.train.data.ytf68 import read_points_csv, read_ytf68

    root = root or data_root()
    aflw = sorted((root / "aflw2000_val").glob("*.jpg"))
    afw = root / "300w68" / "afw"
    return {
        "AFLW2000-3D val": [
            LabelledPhoto(p, _box(scipy.io.loadmat(str(p.with_suffix(".mat")))["pt3d_68"][:2].T)) for p in aflw
        ],
        "300-W AFW crops": [LabelledPhoto(s.path, _box(s.points)) for s in read_points_csv(afw / "landmarks68.csv", afw / "images")],
        f"ytf68, every {ytf_step}th frame": [LabelledPhoto(s.path, _box(s.points)) for s in read_ytf68(root / "ytf68")[::ytf_step]],
        f"CelebA-HQ val ({celeba})": [LabelledPhoto(p, None) for p in sorted((root / celeba / "val/images").glob("*.jpg"))],
    }


def score_photo(boxes: np.ndarray, truth: np.ndarray | None) -> tuple[bool, int]:
    """Whether ``boxes`` (F, 4) find the labelled face ``truth`` (4,) (None: any box), and how many boxes are extra."""
    if truth is None:
        hit = len(boxes) > 0
    else:
        hit = any(box_iou(b, truth) > MATCH_IOU for b in boxes)
    return hit, len(boxes) - int(hit)


def score_set(boxes_of: BoxesOf, photos: Iterable[LabelledPhoto], read: Callable[[Path], np.ndarray]) -> SetScore:
    """Run ``boxes_of`` on every photo (read by ``read``) and count hits and extra boxes."""
    score = SetScore()
    for photo in photos:
        hit, extra = score_photo(np.asarray(boxes_of(read(photo.path))).reshape(-1, 4), photo.truth)
        score.hits.append(hit)
        score.extra += extra
    return score


FACE_CLASSES = ("skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip", "l_lip")
ABOVE_CLASSES = ("eye_g", "l_eye", "r_eye", "l_brow", "r_brow")


def face_free_strips(root: Path | None = None, split: str = "val", min_rows: int = 96) -> list[np.ndarray]:
    """Photo strips with no face in them, for counting false faces: from each human-labelled celebamask19 photo
    (``split``), the rows below its last face pixel (neck, clothes, background) and the rows above its first
    eye or brow pixel (forehead, hair, hats), each kept if at least ``min_rows`` tall; (h, W, 3) uint8 RGB.
    The face's own label map (``FACE_CLASSES``) decides where it ends, with a 4-8 px margin."""
    import json

    from PIL import Image

    folder = (root or data_root()) / "celebamask19" / split
    classes = json.loads((folder / "classes.json").read_text())["classes"]
    face_ids = [classes.index(n) for n in FACE_CLASSES]
    above_ids = [classes.index(n) for n in ABOVE_CLASSES]
    strips = []
    for label_path in sorted((folder / "labels").glob("*.png")):
        labels = np.asarray(Image.open(label_path))
        image = np.asarray(Image.open(folder / "images" / f"{label_path.stem}.jpg").convert("RGB"))
        scale = image.shape[0] / labels.shape[0]
        face_rows = np.nonzero(np.isin(labels, face_ids).any(1))[0]
        above_rows = np.nonzero(np.isin(labels, above_ids).any(1))[0]
        if len(face_rows):
            below = int((face_rows.max() + 4) * scale)
            if image.shape[0] - below >= min_rows:
                strips.append(image[below:])
        if len(above_rows):
            top = int((above_rows.min() - 8) * scale)
            if top >= min_rows:
                strips.append(image[:top])
    return strips
