"""Face detection with MTCNN (P-Net -> R-Net -> O-Net) in plain torch.

```python
detector = FaceDetector.from_pretrained()          # weights/mtcnn/
result = detector(image)                            # DetectionResult, faces by descending score
result.faces[0].box, result.faces[0].points         # (4,) x0, y0, x1, y1 and (5, 2) x, y
detector.largest_face(image)                        # the largest face only (coarse pyramid first), or None
```
Task predictors take these faces as ``predictor(image, faces=result)``.

Coordinates returned are in the input's pixels with the pixel-centre
convention of ``facehub/geometry/align.py`` (pixel ``i`` covers ``[i - 0.5, i + 0.5]``).
Internally boxes use corner coordinates (pixel ``i`` covers ``[i, i + 1]``);
the conversion happens once, in ``result.faces_from_corners``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from facehub.detection.models.mtcnn import MTCNN
from facehub.detection.result import DetectionResult, Face, faces_from_corners
from facehub.device import resolve_device
from facehub.hub import LoadedModel, load_model
from facehub.image import ImageInput, as_rgb_array, downscale_for_detection

CELL = 12  # P-Net's receptive field, pixels
STRIDE = 2  # P-Net's output stride, pixels
MAX_CANDIDATES = 2000  # per NMS call; keeps the (N, N) overlap matrix small on busy images


# --------------------------------------------------------------------------- boxes and NMS
def box_overlap(boxes: torch.Tensor, mode: str = "union", others: torch.Tensor | None = None) -> torch.Tensor:
    """Pairwise overlap (N, M) of ``boxes`` (N, 4) with ``others`` (M, 4; default ``boxes``), ``x0, y0, x1, y1``.

    ``mode="union"``: intersection over union; ``"min"``: intersection over the smaller area. In [0, 1]
    (0 where both boxes are empty).
    """
    others = boxes if others is None else others
    x0, y0, x1, y1 = boxes.unbind(1)
    u0, v0, u1, v1 = others.unbind(1)
    area = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    other_area = (u1 - u0).clamp(min=0) * (v1 - v0).clamp(min=0)
    width = (torch.minimum(x1[:, None], u1[None]) - torch.maximum(x0[:, None], u0[None])).clamp(min=0)
    height = (torch.minimum(y1[:, None], v1[None]) - torch.maximum(y0[:, None], v0[None])).clamp(min=0)
    inter = width * height
    if mode == "min":
        denominator = torch.minimum(area[:, None], other_area[None])
    elif mode == "union":
        denominator = area[:, None] + other_area[None] - inter
    else:
        raise ValueError(f"Unknown NMS mode {mode!r}; use 'union' or 'min'.")
    return inter / denominator.clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """Greedy non-maximum suppression.

    ``boxes`` (N, 4), ``scores`` (N,). A box is dropped when its overlap
    (see ``box_overlap``) with a kept, higher-scoring box is above
    ``threshold``. Returns the kept indices (K,) int64, by descending score.
    Exact greedy result, computed as the fixed point of a vectorised update
    (each pass settles at least one more box; usually 2-4 passes).
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    suppresses = torch.triu(box_overlap(boxes[order], mode) > threshold, diagonal=1)  # [i, j]: i beats j
    keep = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    for _ in range(len(order)):
        updated = ~(suppresses & keep[:, None]).any(0)
        if torch.equal(updated, keep):
            break
        keep = updated
    return order[keep]


def _top_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """``nms`` over at most ``MAX_CANDIDATES`` best-scoring boxes; returns indices into ``boxes``."""
    if len(scores) > MAX_CANDIDATES:
        top = torch.topk(scores, MAX_CANDIDATES).indices
        return top[nms(boxes[top], scores[top], threshold, mode)]
    return nms(boxes, scores, threshold, mode)


def regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Move the edges of ``boxes`` (N, 4) by ``offsets`` (N, 4) in units of each box's width/height."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * size


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Squares (N, 4) with the same centres as ``boxes`` (N, 4) and side max(width, height)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).amax(1, keepdim=True) / 2
    return torch.cat([centre - half, centre + half], dim=1)


# --------------------------------------------------------------------------- image sampling
def mipmap(image: torch.Tensor, min_side: int = CELL) -> list[torch.Tensor]:
    """Halved copies of ``image`` (1, 3, H, W): level ``k`` is (1, 3, H >> k, W >> k), 2x2 box-filtered."""
    levels = [image]
    while min(levels[-1].shape[-2:]) >= 2 * min_side:
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


def _level_for(levels: list[torch.Tensor], scale: float) -> int:
    """Index of the smallest mipmap level still at least ``scale`` times the image size."""
    return max(0, min(len(levels) - 1, int(math.floor(-math.log2(max(scale, 1e-9))))))


def resize(levels: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """The image resized to ``size`` (h, w): bilinear from the mipmap level that is less than 2x larger.

    Returns (1, 3, h, w) in the image's range (0-255).
    """
    scale = min(size[0] / levels[0].shape[-2], size[1] / levels[0].shape[-1])
    source = levels[_level_for(levels, scale)]
    if tuple(source.shape[-2:]) == tuple(size):
        return source
    return F.interpolate(source, size=size, mode="bilinear", align_corners=False)


def crop_boxes(levels: list[torch.Tensor], boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Resample each box (N, 4, corner coordinates) to ``size`` x ``size`` pixels.

    Each box is read from the mipmap level that shrinks it by less than 2x,
    bilinearly; outside the image is black (0). Returns (N, 3, size, size) in
    the image's range (0-255).
    """
    crops = boxes.new_zeros(len(boxes), 3, size, size)
    side = (boxes[:, 2:] - boxes[:, :2]).amax(1).clamp(min=1e-3)
    level_of = torch.floor(torch.log2(side / size)).clamp(0, len(levels) - 1).long()
    steps = (torch.arange(size, dtype=boxes.dtype, device=boxes.device) + 0.5) / size  # (S,)
    for level in level_of.unique().tolist():
        index = (level_of == level).nonzero().squeeze(1)
        image = levels[level]
        height, width = image.shape[-2:]
        b = boxes[index] / 2**level
        xs = (b[:, 0:1] + steps * (b[:, 2:3] - b[:, 0:1])) / width * 2 - 1  # (n, S)
        ys = (b[:, 1:2] + steps * (b[:, 3:4] - b[:, 1:2])) / height * 2 - 1
        grid = torch.stack(torch.broadcast_tensors(xs[:, None, :], ys[:, :, None]), dim=-1)  # (n, S, S, 2)
        out = F.grid_sample(image, grid.reshape(1, -1, size, 2), align_corners=False)  # (1, 3, n*S, S)
        crops[index] = out.reshape(3, len(index), size, size).transpose(0, 1)
    return crops


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """0-255 RGB (N, 3, H, W) -> MTCNN's input range, ``(x - 127.5) / 128`` (about [-1, 1]).

    The result is channels-last: the CPU's pooling kernels are several times faster on it.
    """
    return ((pixels - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)


def pyramid_scales(
    height: int, width: int, min_face_size: float, factor: float, max_face_size: float = math.inf
) -> list[float]:
    """Scales at which a ``min_face_size``-pixel face (and ever larger ones, up to ``max_face_size``) fills
    P-Net's 12 px cell."""
    scale, scales = CELL / min_face_size, []
    while min(height, width) * scale >= CELL and CELL / scale <= max_face_size:
        scales.append(scale)
        scale *= factor
    return scales


# --------------------------------------------------------------------------- the three stages
@dataclass
class Candidates:
    """Face candidates: ``boxes`` (N, 4) corner coordinates, ``scores`` (N,) in [0, 1], ``points`` (N, 5, 2) or None."""

    boxes: torch.Tensor
    scores: torch.Tensor
    points: torch.Tensor | None = None

    def select(self, index: torch.Tensor) -> "Candidates":
        points = None if self.points is None else self.points[index]
        return Candidates(self.boxes[index], self.scores[index], points)

    def __len__(self) -> int:
        return len(self.scores)


def _pnet_one_scale(
    pnet: torch.nn.Module, levels: list[torch.Tensor], scale: float, threshold: float, iou: float
) -> Candidates:
    """P-Net on the image resized by ``scale``: candidates above ``threshold`` after NMS, in image coordinates."""
    height, width = levels[0].shape[-2:]
    size = (max(CELL, math.ceil(height * scale)), max(CELL, math.ceil(width * scale)))
    prob, offsets = pnet(normalise(resize(levels, size)))
    rows, cols = (prob[0] >= threshold).nonzero(as_tuple=True)
    scores = prob[0, rows, cols]
    sy, sx = size[0] / height, size[1] / width
    x0, y0 = cols.to(prob.dtype) * STRIDE, rows.to(prob.dtype) * STRIDE
    boxes = torch.stack([x0 / sx, y0 / sy, (x0 + CELL) / sx, (y0 + CELL) / sy], dim=1)
    boxes = regress(boxes, offsets[0][:, rows, cols].T)
    keep = _top_nms(boxes, scores, iou)
    return Candidates(boxes[keep], scores[keep])


def _valid(candidates: Candidates, min_side: float = 1.0) -> Candidates:
    """Drop degenerate boxes (side below ``min_side`` pixels or not finite)."""
    sides = candidates.boxes[:, 2:] - candidates.boxes[:, :2]
    ok = (sides.amin(1) >= min_side) & torch.isfinite(candidates.boxes).all(1)
    return candidates.select(ok.nonzero().squeeze(1))


def stage_one(
    pnet: torch.nn.Module,
    levels: list[torch.Tensor],
    scales: list[float],
    threshold: float,
    nms_scale: float,
    nms_all: float,
) -> Candidates:
    """P-Net over the pyramid; returns square candidates (regression applied)."""
    found = [_pnet_one_scale(pnet, levels, scale, threshold, nms_scale) for scale in scales]
    boxes = torch.cat([c.boxes for c in found]) if found else levels[0].new_zeros(0, 4)
    scores = torch.cat([c.scores for c in found]) if found else levels[0].new_zeros(0)
    keep = _top_nms(boxes, scores, nms_all)
    return _valid(Candidates(square(boxes[keep]), scores[keep]))


def stage_two(
    rnet: torch.nn.Module, levels: list[torch.Tensor], candidates: Candidates, threshold: float, iou: float
) -> Candidates:
    """R-Net on 24x24 crops: rescored, filtered, NMS-ed, regressed, squared candidates."""
    if len(candidates) == 0:
        return candidates
    prob, offsets = rnet(normalise(crop_boxes(levels, candidates.boxes, 24)))
    passed = (prob > threshold).nonzero().squeeze(1)
    boxes, scores, offsets = candidates.boxes[passed], prob[passed], offsets[passed]
    keep = _top_nms(boxes, scores, iou)
    return _valid(Candidates(square(regress(boxes[keep], offsets[keep])), scores[keep]))


def stage_three(
    onet: torch.nn.Module, levels: list[torch.Tensor], candidates: Candidates, threshold: float, iou_min: float
) -> Candidates:
    """O-Net on 48x48 crops: final scores, regressed boxes and five points, NMS ('min' overlap)."""
    if len(candidates) == 0:
        empty = candidates.boxes.new_zeros(0, 5, 2)
        return Candidates(candidates.boxes, candidates.scores, empty)
    prob, offsets, points = onet(normalise(crop_boxes(levels, candidates.boxes, 48)))
    passed = (prob > threshold).nonzero().squeeze(1)
    boxes, scores = candidates.boxes[passed], prob[passed]
    size = boxes[:, 2:] - boxes[:, :2]  # (n, 2)
    points = points[passed].view(-1, 2, 5).transpose(1, 2) * size[:, None] + boxes[:, None, :2]  # (n, 5, 2)
    boxes = regress(boxes, offsets[passed])
    keep = _top_nms(boxes, scores, iou_min, mode="min")
    return Candidates(boxes[keep], scores[keep], points[keep])


# --------------------------------------------------------------------------- the detector
class FaceDetector:
    """MTCNN face detector: ``detector(image) -> DetectionResult``.

    Settings default to the checkpoint's ``config.json``: ``thresholds``
    (P, R, O-Net score thresholds in [0, 1]), ``min_face_size`` (pixels, in the
    image the networks see), ``factor`` (pyramid step, in (0, 1)) and
    ``max_side`` (larger images are searched on a copy downscaled to this
    longer side; results are mapped back to full size).
    """

    task = "detection"

    def __init__(
        self,
        loaded: LoadedModel,
        device: torch.device | str | None = None,
        thresholds: tuple[float, float, float] | None = None,
        min_face_size: float | None = None,
        factor: float | None = None,
        max_side: int | None = None,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.device = resolve_device(str(device) if device is not None else None)
        self.model: MTCNN = loaded.model.to(self.device, memory_format=torch.channels_last).eval()
        self.thresholds = tuple(float(t) for t in thresholds or self.config.get("thresholds", (0.6, 0.7, 0.7)))
        self.min_face_size = float(min_face_size or self.config.get("min_face_size", 20))
        self.factor = float(factor or self.config.get("factor", 0.709))
        self.max_side = int(max_side or self.config.get("max_side", 1024))
        default_nms = {"pnet_scale": 0.5, "pnet": 0.7, "rnet": 0.7, "onet_min": 0.7}
        self.nms_thresholds = {**default_nms, **self.config.get("nms", {})}
        if not 0 < self.factor < 1:
            raise ValueError(f"factor must be in (0, 1); got {self.factor}.")

    @classmethod
    def from_pretrained(
        cls, name: str = "mtcnn", device: torch.device | str | None = None, **settings: object
    ) -> "FaceDetector":
        """Load checkpoint ``name`` (``weights/<name>/`` first, then the Hub); ``settings`` override config.json."""
        device = resolve_device(str(device) if device is not None else None)
        return cls(load_model(name, device), device=device, **settings)

    @property
    def name(self) -> str:
        return self.loaded.name

    def __call__(
        self, image: ImageInput, min_face_size: float | None = None, max_face_size: float | None = None
    ) -> DetectionResult:
        """Detect every face in ``image`` (anything ``load_image`` accepts; (H, W, 3) uint8 is used as is).

        ``min_face_size`` (pixels of ``image``) replaces the configured smallest face for this call: the image
        pyramid starts there, so a larger value is faster (somewhat smaller faces may still be found).
        ``max_face_size`` (pixels of ``image``; None: no limit) ends the pyramid there: only the fine levels
        run, so faces much larger are not searched (parts of them may still be found).
        """
        array = as_rgb_array(image)
        boxes, scores, points = self.detect(array, min_face_size, max_face_size)
        return DetectionResult(image=array, faces=faces_from_corners(boxes, scores, points))

    def largest_face(self, image: ImageInput, min_fraction: float = 0.1) -> Face | None:
        """The face with the largest box in ``image``, or None.

        Faces of at least ``min_fraction`` of the photo's shorter side are searched first (the expensive
        fine pyramid levels are skipped); only when none is found is the full range searched.
        """
        array = as_rgb_array(image)
        faces = self(array, min_face_size=min_fraction * min(array.shape[:2])).faces or self(array).faces
        return largest_face(faces) if faces else None

    @torch.inference_mode()
    def detect(
        self, image: np.ndarray, min_face_size: float | None = None, max_face_size: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the cascade on ``image`` (H, W, 3) uint8 RGB.

        Returns ``boxes`` (F, 4), ``scores`` (F,) and ``points`` (F, 5, 2),
        float64, in corner coordinates of the full-size image, by descending score.
        ``min_face_size``, ``max_face_size`` (pixels of ``image``): see ``__call__``.
        """
        small, factor = downscale_for_detection(image, self.max_side)
        smallest = self.min_face_size if min_face_size is None else max(float(CELL), min_face_size * factor)
        largest = math.inf if max_face_size is None else max_face_size * factor
        found = self._cascade(small, smallest, largest)
        order = torch.argsort(found.scores, descending=True, stable=True)
        found = found.select(order)
        boxes = found.boxes.double().cpu().numpy() / factor
        points = found.points.double().cpu().numpy() / factor
        return boxes, found.scores.double().cpu().numpy(), points

    def _cascade(self, image: np.ndarray, min_face_size: float, max_face_size: float = math.inf) -> Candidates:
        """P-Net -> R-Net -> O-Net on ``image`` (h, w, 3) uint8; candidates in its corner coordinates."""
        height, width = image.shape[:2]
        # (1, 3, h, w) in 0-255; permuting an (h, w, 3) array gives channels-last strides for free
        tensor = torch.tensor(image, device=self.device).permute(2, 0, 1)[None].float()
        levels = mipmap(tensor)
        scales = pyramid_scales(height, width, min_face_size, self.factor, max_face_size)
        t_p, t_r, t_o = self.thresholds
        nms_t = self.nms_thresholds
        found = stage_one(self.model.pnet, levels, scales, t_p, nms_t["pnet_scale"], nms_t["pnet"])
        found = stage_two(self.model.rnet, levels, found, t_r, nms_t["rnet"])
        return stage_three(self.model.onet, levels, found, t_o, nms_t["onet_min"])


def box_area(face: Face) -> float:
    """The area of ``face``'s box, photo px squared."""
    return float((face.box[2] - face.box[0]) * (face.box[3] - face.box[1]))


def largest_face(faces: list[Face]) -> Face:
    """The face with the largest box area (``faces`` must not be empty; the first of equal ones)."""
    return max(faces, key=box_area)


def size_order(faces: list[Face]) -> list[int]:
    """Indices into ``faces`` from the largest box to the smallest (equal ones keep their order): the face numbers
    the editor takes (``face_by_size``), the detection overlay draws and the app's galleries show, 1 = the largest."""
    return sorted(range(len(faces)), key=lambda i: -box_area(faces[i]))


def face_by_size(faces: list[Face], number: int, photo: str = "photo") -> Face:
    """The ``number``-th largest face of ``faces`` by box area (1 = the largest, as ``largest_face``; the first of
    equal ones first). Raises ``FaceNumberError`` naming ``photo`` when there is no such face."""
    from facehub.errors import FaceNumberError

    count = len(faces)
    if not 1 <= number <= count:
        choose = f"Choose a face number from 1 (the largest) to {count}." if count else "Use a photo with a clearly visible face."
        raise FaceNumberError(f"The {photo} has {count} face{'' if count == 1 else 's'}, so there is no face {number}. {choose}")
    return faces[size_order(faces)[number - 1]]


