"""Test stand-ins shared by several test modules."""

from __future__ import annotations

import numpy as np

from facehub.detection.result import DetectionResult, Face


class FixedDetector:
    """A stand-in detector that returns the faces it was given."""

    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces

    def __call__(self, image: np.ndarray) -> DetectionResult:
        return DetectionResult(image=image, faces=self.faces)
