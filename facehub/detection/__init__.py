"""Face detection: MTCNN nets (``models/``), the detector (``detector.py``) and its ``Face`` / ``DetectionResult``."""

from facehub.detection.detector import FaceDetector
from facehub.detection.result import DetectionResult, Face

__all__ = ["DetectionResult", "Face", "FaceDetector"]
