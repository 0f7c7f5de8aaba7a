"""Face detection: MTCNN (``detector.py``), BlazeFace (``blazeface.py``) and the default, BlazeFace first with MTCNN
where it cannot see (``cascade.py``, checkpoint ``face-detector``), with one output contract,
``detector(image) -> DetectionResult`` (``result.py``: boxes, scores in [0, 1], five points, by descending score)."""

from __future__ import annotations

from facehub.detection.detector import FaceDetector, largest_face
from facehub.detection.result import DetectionResult, Face

__all__ = ["DetectionResult", "Face", "FaceDetector", "largest_face", "load_detector", "largest_face_of"]


def load_detector(name: str | None = None, device=None):
    """The detector checkpoint ``name`` (default: the registry's default detector), loaded once per call."""
    import facehub
    from facehub.registry import DEFAULTS, get_spec

    name = name or DEFAULTS["detection"]
    if get_spec(name).task != "detection":
        from facehub.errors import CheckpointError

        raise CheckpointError(f"{name!r} is not a face detector; detectors: "
                              f"{', '.join(s.name for s in facehub.list_models('detection'))}.")
    return facehub.load(name, device=device)


def largest_face_of(detector, image) -> Face | None:
    """The largest face ``detector`` finds in ``image`` (its own ``largest_face`` when it has a faster one)."""
    if hasattr(detector, "largest_face"):
        return detector.largest_face(image)
    faces = detector(image).faces
    return largest_face(faces) if faces else None
