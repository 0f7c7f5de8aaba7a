"""dlib's 68-point predictor as a second landmark teacher: 300-W-style points on unlabelled sharp photos.

dlib's ``shape_predictor_68_face_landmarks.dat`` (an ensemble of regression trees, Kazemi & Sullivan 2014,
trained by Davis King on iBUG 300-W; shipped in the ``face-recognition-models`` PyPI package; the 300-W
licence excludes commercial use, as for the landmark models trained here) follows 300-W's annotation style
and is accurate on near-frontal faces framed by its own HOG detector. ``scripts/pseudo_label_landmarks.py``
labels CelebA-HQ portraits with it; ``agreeing_face`` keeps a face only where the teacher and the shipped
model roughly agree, so the teacher's gross failures do not become training labels. Training only: dlib is
not a dependency of the package (``pip install dlib-bin face-recognition-models``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facehub.train.eval.landmarks import point_errors
from facehub.train.eval.metrics import box_iou


@dataclass
class TeacherFace:
    """One face the teacher labelled: ``box`` (4,) x0, y0, x1, y1 of its detector in pixels; ``points`` (68, 2) pixels."""

    box: np.ndarray
    points: np.ndarray


def agreeing_face(candidates: list[TeacherFace], reference: np.ndarray, max_nme: float = 0.08,
                  min_iou: float = 0.3) -> TeacherFace | None:
    """The candidate whose box overlaps the box of ``reference`` (68, 2) points (another model's, in pixels)
    by IoU >= ``min_iou`` and whose points lie within ``max_nme`` (mean distance over the outer eye corners'
    distance of ``reference``) of them; the closest such candidate, or None."""
    box = np.r_[reference.min(0), reference.max(0)]
    best, best_nme = None, max_nme
    for face in candidates:
        if box_iou(face.box, box) < min_iou:
            continue
        nme = float(point_errors(face.points, reference).mean())
        if nme <= best_nme:
            best, best_nme = face, nme
    return best


class DlibTeacher:
    """dlib's HOG face detector + 68-point predictor. ``__call__(image)`` -> ``TeacherFace`` list.
    ``image``: (H, W, 3) uint8 RGB."""

    def __init__(self, upsample: int = 0):
        spec = importlib.util.find_spec("face_recognition_models")  # not imported: its __init__ needs pkg_resources
        try:
            import dlib
        except ImportError:
            spec = None
        if spec is None or spec.origin is None:  # pragma: no cover - an optional training tool
            raise SystemExit("The dlib teacher needs: pip install dlib-bin face-recognition-models")
        path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(path))
        self.upsample = upsample

    def __call__(self, image: np.ndarray) -> list[TeacherFace]:
        faces = []
        for rect in self.detector(image, self.upsample):
            shape = self.predictor(image, rect)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            faces.append(TeacherFace(np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], float), points))
        return faces
