"""BlazeFace face detection (MediaPipe's detectors, converted): ``detector(image) -> DetectionResult``.

```python
detector = BlazeFaceDetector.from_pretrained("blazeface")   # weights/blazeface/ (full range, 192 px)
result = detector(image)                                     # faces by descending score, same contract as MTCNN
result.faces[0].box, result.faces[0].points                  # (4,) x0, y0, x1, y1 and (5, 2) x, y
```

The pipeline is mediapipe's ``FaceDetection`` graph step for step, so raw scores and boxes match it:
the photo is letterboxed into the square input (scaled to fit, centred, black bars; sampled as OpenCV's
``warpPerspective`` does, see ``letterbox``), the network's (A, 16) regression is decoded against fixed-size
SSD anchors (``ssd_anchors``, ``decode``), candidates above ``score_threshold`` are merged by mediapipe's
weighted ("blending") suppression (``weighted_nms``), and boxes and keypoints are mapped back to the photo.

Coordinates returned are in the input's pixels with the pixel-centre convention of ``detector.py`` (pixel ``i``
covers ``[i - 0.5, i + 0.5]``); mediapipe's normalised outputs times the image size are corner coordinates
(pixel ``i`` covers ``[i, i + 1]``), so 0.5 is subtracted once, in ``result.faces_from_corners``.

Five points: BlazeFace's 6 keypoints are the eye centres, nose tip, mouth centre and the two ear tragions
(subject's right first). FaceHub's aligners take eye centres, nose tip and mouth corners: ``FivePointMap``
estimates the mouth corners from the 6 keypoints with a linear map fitted to MTCNN's points (see the card).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facehub.detection.models.blazeface import BlazeFace
from facehub.detection.detector import box_overlap
from facehub.detection.result import DetectionResult, Face, faces_from_corners
from facehub.device import resolve_device
from facehub.hub import LoadedModel, load_folder, load_model
from facehub.image import ImageInput, as_rgb_array
from facehub.nn.frozen import FrozenModule

NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion (subject's)
INTER_TAB_SIZE = 32  # OpenCV's warp quantises source coordinates to 1/32 pixel


# --------------------------------------------------------------------------- anchors and decoding
def ssd_anchors(
    input_size: int,
    strides: Sequence[int],
    interpolated_scale_aspect_ratio: float = 1.0,
    aspect_ratios: Sequence[float] = (1.0,),
    offset: float = 0.5,
) -> torch.Tensor:
    """Anchor centres (A, 2) ``x, y`` in [0, 1] of mediapipe's ``SsdAnchorsCalculator`` with ``fixed_anchor_size``.

    Consecutive layers with the same stride share one feature map; each layer adds ``len(aspect_ratios)``
    anchors per cell, plus one when ``interpolated_scale_aspect_ratio > 0``. Order: layer group, row, column,
    anchor. With fixed anchor size every anchor is 1 x 1 (the scales only matter without it), so only centres
    are returned. Short range (128, strides 8/16/16/16, interpolated 1.0): 16*16*2 + 8*8*6 = 896 anchors.
    """
    centres, layer = [], 0
    while layer < len(strides):
        stride, per_cell = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            per_cell += len(aspect_ratios) + (1 if interpolated_scale_aspect_ratio > 0 else 0)
            layer += 1
        cells = math.ceil(input_size / stride)
        axis = (torch.arange(cells, dtype=torch.float32) + offset) / cells
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([x, y], -1).reshape(-1, 1, 2).expand(-1, per_cell, 2)
        centres.append(grid.reshape(-1, 2))
    return torch.cat(centres)


def decode(
    logits: torch.Tensor, regression: torch.Tensor, anchors: torch.Tensor, input_size: int, clip: float = 100.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw outputs -> scores (A,) in [0, 1], boxes (A, 4) ``x0, y0, x1, y1`` and keypoints (A, 6, 2) ``x, y``.

    ``logits`` (A,), ``regression`` (A, 16) (centre x, y, width, height, then 6 keypoints; input pixels, relative
    to the anchor centre), ``anchors`` (A, 2) centres in [0, 1]. Boxes and keypoints are in [0, 1] units of the
    square input (they may leave it). Scores: sigmoid of the logit clipped to ``[-clip, clip]``.
    """
    scores = torch.sigmoid(logits.clamp(-clip, clip))
    values = regression / input_size
    centre = values[:, 0:2] + anchors
    half = values[:, 2:4] / 2
    boxes = torch.cat([centre - half, centre + half], 1)
    keypoints = values[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None]
    return scores, boxes, keypoints


def weighted_nms(
    scores: torch.Tensor, boxes: torch.Tensor, keypoints: torch.Tensor, threshold: float = 0.3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MediaPipe's weighted ("blending") non-maximum suppression.

    Repeatedly takes the best remaining candidate and every remaining one whose IoU with it is above
    ``threshold`` (itself included); emits the best one's score with the score-weighted mean of their boxes and
    keypoints, and drops them all. Inputs (N,), (N, 4), (N, K, 2); returns (F,), (F, 4), (F, K, 2) by descending score.
    """
    order = torch.argsort(scores, descending=True, stable=True)
    scores, boxes, keypoints = scores[order], boxes[order], keypoints[order]
    kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    while len(scores):
        members = box_overlap(boxes[:1], others=boxes)[0] > threshold
        members[0] = True
        weights = scores[members] / scores[members].sum()
        kept.append((scores[0], (weights[:, None] * boxes[members]).sum(0), (weights[:, None, None] * keypoints[members]).sum(0)))
        scores, boxes, keypoints = scores[~members], boxes[~members], keypoints[~members]
    if not kept:
        return scores, boxes, keypoints
    return torch.stack([k[0] for k in kept]), torch.stack([k[1] for k in kept]), torch.stack([k[2] for k in kept])


# --------------------------------------------------------------------------- letterbox
@dataclass(frozen=True)
class Letterbox:
    """Where the square input sits in the photo: its top-left corner ``(x0, y0)`` and ``side``, in photo pixels."""

    x0: float
    y0: float
    side: float

    def to_image(self, normalised: np.ndarray) -> np.ndarray:
        """(..., 2) ``x, y`` in [0, 1] units of the input -> photo corner coordinates (pixel ``i`` covers [i, i + 1])."""
        return np.asarray(normalised, dtype=np.float64) * self.side + np.array([self.x0, self.y0])


def letterbox(image: np.ndarray, size: int, pad: float = 0.0) -> tuple[torch.Tensor, Letterbox]:
    """(H, W, 3) uint8 RGB -> (1, 3, size, size) float32 in [-1, 1] and its ``Letterbox``.

    ``pad`` (a fraction of the longer side, >= 0) widens the square by that much on every side (black), so a
    face cut by the frame is seen whole-sized with its missing part black; 0 is mediapipe's letterbox.

    As mediapipe's ``ImageToTensorCalculator`` (``keep_aspect_ratio``, ``BORDER_ZERO``) with OpenCV: the square of
    side ``max(H, W)`` centred on the photo maps corner to corner onto the input, so input pixel ``k`` samples
    the photo at pixel index ``x0 + k * side / size`` (bilinear at 1/32-pixel positions, black outside, rounded
    half up to 8 bits: OpenCV's fixed-point uint8 warp) before ``value / 127.5 - 1``. Positions exactly halfway
    between two 1/32 steps round half to even here; OpenCV's float matrix tips some of them the other way (a
    1/32 pixel shift of a few rows or columns: 72 of 103 test photos give mediapipe's tensor exactly).
    """
    height, width = image.shape[:2]
    side = float(max(height, width)) * (1 + 2 * pad)
    box = Letterbox((width - side) / 2, (height - side) / 2, side)
    return sample_square(image, box, size), box


def sample_square(image: np.ndarray, box: Letterbox, size: int) -> torch.Tensor:
    """The square ``box`` of ``image`` (H, W, 3) uint8 RGB (black outside the photo) -> (1, 3, size, size)
    float32 in [-1, 1], sampled as ``letterbox`` describes."""
    height, width = image.shape[:2]
    side = box.side
    steps = np.arange(size) * (side / size)
    rows, row_weights = _taps(box.y0 + steps, height)
    cols, col_weights = _taps(box.x0 + steps, width)
    taps = image.take(rows, 0).take(cols, 1).transpose(2, 0, 1).astype(np.float32)  # (3, 2S, 2S), 0-255
    wy, wx = row_weights.astype(np.float32), col_weights.astype(np.float32)
    blended = taps[:, 0::2] * wy[None, :, 0, None] + taps[:, 1::2] * wy[None, :, 1, None]  # (3, S, 2S)
    blended = blended[:, :, 0::2] * wx[None, None, :, 0] + blended[:, :, 1::2] * wx[None, None, :, 1]  # (3, S, S)
    pixels = np.floor(blended + 0.5)  # exact in float32 (weights are multiples of 1/32), rounded as OpenCV
    return torch.from_numpy(pixels / np.float32(127.5) - np.float32(1))[None]


def _taps(positions: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear taps of sample ``positions`` (S,) (pixel indices) along an axis of ``length`` pixels.

    Returns tap indices (2S,), clamped into the axis, and weights (S, 2), zero for taps outside it (black).
    """
    quantised = np.round(positions * INTER_TAB_SIZE) / INTER_TAB_SIZE  # half to even, as OpenCV's cvRound
    low = np.floor(quantised)
    frac = quantised - low
    taps = np.stack([low, low + 1], 1).astype(np.int64)
    weights = np.stack([1 - frac, frac], 1) * ((taps >= 0) & (taps < length))
    return np.clip(taps, 0, length - 1).reshape(-1), weights


# --------------------------------------------------------------------------- five points
@dataclass(frozen=True)
class FivePointMap:
    """The mouth corners from BlazeFace's 6 keypoints, by a linear map in a face frame.

    Frame of each face: origin at the mouth centre, x axis along the eye line (subject's right eye -> left eye),
    y axis 90 degrees clockwise from it (down on an upright face), unit the box width. ``weights`` (11, 4) maps
    ``[the other 5 keypoints' frame coordinates (10), 1]`` to the two corners' frame coordinates (image-left
    corner first). Eyes and nose tip are BlazeFace's own.
    """

    weights: np.ndarray

    @classmethod
    def from_config(cls, config: dict | None) -> FivePointMap:
        if not config:  # fall back to corners 0.2 box widths either side of the mouth centre, on its line
            weights = np.zeros((11, 4))
            weights[10] = [-0.2, 0.0, 0.2, 0.0]
            return cls(weights)
        return cls(np.asarray(config["weights"], dtype=np.float64))

    def to_config(self) -> dict:
        return {"weights": np.round(self.weights, 5).tolist()}

    @staticmethod
    def features(keypoints: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frames and inputs: keypoints (F, 6, 2), box widths (F,) -> frames (F, 3, 2) (origin, x axis, y axis
        scaled by width) and features (F, 11)."""
        origin = keypoints[:, 3]
        axis = keypoints[:, 1] - keypoints[:, 0]
        axis = axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-9)
        ex = axis * widths[:, None]
        ey = np.stack([-ex[:, 1], ex[:, 0]], 1)
        frames = np.stack([origin, ex, ey], 1)
        basis = np.linalg.inv(np.stack([ex, ey], 2))  # (F, 2, 2): image offset -> frame coordinates
        local = np.einsum("fij,fkj->fki", basis, keypoints[:, [0, 1, 2, 4, 5]] - origin[:, None])
        return frames, np.concatenate([local.reshape(len(keypoints), -1), np.ones((len(keypoints), 1))], 1)

    def __call__(self, keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Keypoints (F, 6, 2) and boxes (F, 4), photo pixels -> five points (F, 5, 2), MTCNN's order."""
        if len(keypoints) == 0:
            return np.zeros((0, 5, 2))
        frames, features = self.features(keypoints, boxes[:, 2] - boxes[:, 0])
        local = (features @ self.weights).reshape(-1, 2, 2)
        corners = frames[:, None, 0] + local[..., :1] * frames[:, None, 1] + local[..., 1:] * frames[:, None, 2]
        return np.concatenate([keypoints[:, :3], corners], 1)


# --------------------------------------------------------------------------- the detector
class BlazeFaceDetector:
    """BlazeFace detector: ``detector(image) -> DetectionResult`` (boxes, scores in [0, 1], five points).

    Settings default to the checkpoint's ``config.json``: ``score_threshold`` (in [0, 1]; mediapipe's own is
    0.5 for short range, 0.6 for full range) and ``nms_threshold`` (IoU of the weighted suppression).
    """

    task = "detection"

    def __init__(
        self,
        loaded: LoadedModel,
        device: torch.device | str | None = None,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.device = resolve_device(str(device) if device is not None else None)
        # channels-last: the depthwise convolutions run about 1.5-2x faster on the CPU
        self.model: BlazeFace = loaded.model.to(self.device, memory_format=torch.channels_last).eval()
        self.input_size = int(self.config["input_size"])
        anchors = self.config["anchors"]
        self.anchors = ssd_anchors(
            self.input_size, anchors["strides"], anchors["interpolated_scale_aspect_ratio"],
            anchors.get("aspect_ratios", (1.0,)), anchors.get("offset", 0.5),
        ).to(self.device)
        self.score_threshold = float(score_threshold if score_threshold is not None else self.config["score_threshold"])
        self.nms_threshold = float(nms_threshold if nms_threshold is not None else self.config["nms_threshold"])
        self.clip = float(self.config.get("score_clipping", 100.0))
        self.five_points = FivePointMap.from_config(self.config.get("mouth_corners"))
        self._frozen = FrozenModule(self.model)  # on the CPU a frozen trace from the second call: about 2 ms less

    @classmethod
    def from_pretrained(
        cls, name: str = "blazeface", device: torch.device | str | None = None, **settings: float
    ) -> BlazeFaceDetector:
        """Load checkpoint ``name`` through the registry (``weights/<name>/`` first, then the Hub)."""
        device = resolve_device(str(device) if device is not None else None)
        return cls(load_model(name, device), device=device, **settings)

    @classmethod
    def from_folder(
        cls, folder: Path | str, device: torch.device | str | None = None, **settings: float
    ) -> BlazeFaceDetector:
        """Load a checkpoint folder directly (config.json + model.safetensors, strictly), without the registry."""
        return cls(load_folder(folder, Path(folder).name), device=device, **settings)

    @property
    def name(self) -> str:
        return self.loaded.name

    def __call__(self, image: ImageInput) -> DetectionResult:
        """Detect every face in ``image`` (anything ``load_image`` accepts; (H, W, 3) uint8 is used as is)."""
        array = as_rgb_array(image)
        return DetectionResult(image=array, faces=self.to_faces(*self.detect(array)))

    def to_faces(self, boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray) -> list[Face]:
        """``detect``'s arrays -> ``Face`` objects (five points, pixel-centre coordinates)."""
        return faces_from_corners(boxes, scores, self.five_points(keypoints, boxes))

    @torch.inference_mode()
    def detect(self, image: np.ndarray, pad: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run on ``image`` (H, W, 3) uint8 RGB, letterboxed with ``pad`` (see ``letterbox``; 0: mediapipe's).

        Returns ``boxes`` (F, 4), ``scores`` (F,) and the 6 ``keypoints`` (F, 6, 2), float64, corner coordinates
        of the photo (mediapipe's normalised values times the photo size), by descending score.
        """
        tensor, box = letterbox(image, self.input_size, pad)
        return self.run_batch(tensor, [box])[0]

    @torch.inference_mode()
    def run_batch(
        self, tensor: torch.Tensor, boxes: Sequence[Letterbox], thresholds: Sequence[float] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One forward pass on ``tensor`` (B, 3, S, S) in [-1, 1] (``letterbox`` outputs, concatenated), each
        input mapped back through its ``boxes[b]``, its scores cut at ``thresholds[b]`` (default ``score_threshold``).

        Returns ``detect``'s ``(boxes, scores, keypoints)`` for each input.
        """
        thresholds = thresholds or [self.score_threshold] * len(boxes)
        logits, regression = self._frozen(tensor.to(self.device).contiguous(memory_format=torch.channels_last))
        found = []
        for b, (box, threshold) in enumerate(zip(boxes, thresholds)):
            scores, corners, keypoints = decode(logits[b], regression[b], self.anchors, self.input_size, self.clip)
            keep = (scores >= threshold) & (corners[:, 2] > corners[:, 0]) & (corners[:, 3] > corners[:, 1])
            scores, corners, keypoints = weighted_nms(scores[keep], corners[keep], keypoints[keep], self.nms_threshold)
            corners = box.to_image(corners.double().cpu().numpy().reshape(-1, 2, 2)).reshape(-1, 4)
            found.append((corners, scores.double().cpu().numpy(), box.to_image(keypoints.double().cpu().numpy())))
        return found

