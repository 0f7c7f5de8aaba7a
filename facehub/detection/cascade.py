"""FaceHub's default face detector: BlazeFace short range first, MTCNN for what it cannot see.

```python
detector = CascadeDetector.from_pretrained("face-detector")  # weights/face-detector/config.json names the parts
result = detector(image)                                     # DetectionResult, faces by descending score
```

Passes (settings in ``weights/face-detector/config.json``, see its card for the measurements behind them):

1. **Fast path.** BlazeFace short range on the whole photo (one 128 px forward pass, about 5 ms at any size).
   Its letterbox already pads the shorter side black, so most faces cut by the frame are found here.
2. **Nothing found** (profiles, faces cut by the frame, odd lighting): one batched BlazeFace pass on a padded
   copy (``pad``: black margins of that fraction of the longer side on every side, so a face half outside
   the frame is seen whole-sized) and on the mirrored photo, at ``retry_threshold``; if still nothing, MTCNN
   on the whole photo.
3. **Small faces and groups.** BlazeFace short range needs faces at least about 12% of the photo's longer side
   wide, and in a group or collage it misses some faces of the size it finds. Unless the fast path found exactly
   one face, of at least ``portrait`` of the longer side (a portrait, a selfie, a crop: the common case, and the
   fast one; ``small_photo_portrait`` in photos smaller than ``small_photo_side``, whose faces below BlazeFace's
   reach are tiny), MTCNN searches the faces below ``small_below`` of the longer side (its fine pyramid levels
   only; with two or more faces found, up to ``group_reach`` times the widest of them) and the padded BlazeFace
   pass looks for faces cut by the frame; faces that overlap one already found (IoU above ``overlap``) are dropped.
   **Turned pass** (``rotation`` > 0): in that search, and where the one portrait-sized face scores under
   ``rotate_below`` (an unsure lone face: a profile or a tilted head may be beside it, as in a whisper), BlazeFace
   also runs on the padded input turned by +-``rotation`` degrees (one batch of 2, about 9 ms), at
   ``rotated_threshold``; its faces are turned back (``_rotated``). Not where nothing was found: on face-free
   photos it passed crowns of hair.

4. **Verification** (``verify_below`` > 0). A face scoring under it is parsed by the ``verify`` part (a face parser,
   ``bisenet``) and dropped when its own parse shows no nose, eyes, brows or lips (``facial_feature_shares``): the
   back of a head, which BlazeFace can score 0.5-0.76.

Scores: each face keeps its own detector's score (both in [0, 1]); the result is sorted by it. Five points:
BlazeFace's faces get its eyes and nose tip and the fitted mouth corners (``blazeface.FivePointMap``); on a
profile whose far eye is hidden that eye is BlazeFace's guess, about where it would be behind the nose (see
the card). MTCNN's faces get MTCNN's own five points.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from facehub.detection.blazeface import BlazeFaceDetector, Letterbox, letterbox
from facehub.detection.detector import FaceDetector, box_overlap, largest_face
from facehub.detection.result import DetectionResult, Face
from facehub.device import resolve_device
from facehub.image import ImageInput, as_rgb_array

MIRRORED_KEYPOINTS = [1, 0, 2, 3, 5, 4]  # BlazeFace keypoint order after mirroring (the subject's sides swap)


@dataclass(frozen=True)
class CascadeSettings:
    """The cascade's settings (fractions are of the photo's longer side; thresholds are scores in [0, 1]).

    ``pad``: black margin of the padded BlazeFace input; ``retry_threshold``: BlazeFace threshold of the padded and
    mirrored retry; ``portrait``: a fast-path face at least this wide ends the search (``small_photo_portrait``
    in photos whose longer side is below ``small_photo_side`` pixels); ``small_below``: the small-face pass searches
    faces narrower than this; ``overlap``: IoU above which a later pass's face duplicates one already found;
    ``padded_threshold``: > 0 runs the padded input in the fast path's forward pass too (batch of 2, about 1.5x
    the time), at this threshold; 0: off. ``fallback_threshold``: MTCNN's O-Net threshold when BlazeFace found
    nothing (its own default, 0.85, is set for precision on every photo). ``group_reach``: with two or more fast-path
    faces (a group, a collage) the small-face pass looks for faces up to this times the widest found (BlazeFace
    short range misses some of a group's faces of the same size). ``verify_below`` > 0: faces scoring under it are
    parsed (the ``verify`` part, a face parser) and kept only where their own parse calls at least
    ``verify_min_features`` of the box nose, eyes, brows or lips: a back of a head, which BlazeFace can score 0.5-0.76,
    has none of them; 0: off. ``rotation`` > 0 (degrees): the turned pass (module docstring), its faces kept from
    ``rotated_threshold``; ``rotate_below``: a lone portrait face scoring under it gets the turned pass too; 0: off.
    """

    pad: float = 0.25
    retry_threshold: float = 0.5
    portrait: float = 0.25
    small_photo_side: float = 640
    small_photo_portrait: float = 0.15
    small_below: float = 0.16
    overlap: float = 0.3
    padded_threshold: float = 0.0
    fallback_threshold: float = 0.7
    group_reach: float = 1.25
    verify_below: float = 0.0
    verify_min_features: float = 0.003
    rotation: float = 0.0
    rotated_threshold: float = 0.5
    rotate_below: float = 0.0

    @classmethod
    def from_config(cls, config: dict, **overrides: float) -> CascadeSettings:
        names = {f.name for f in fields(cls)}
        values = {k: float(v) for k, v in config.items() if k in names}
        values.update({k: float(v) for k, v in overrides.items() if v is not None})
        return cls(**values)


class CascadeDetector:
    """BlazeFace short range, then padded/mirrored BlazeFace and MTCNN where needed: ``detector(image) -> DetectionResult``."""

    task = "detection"

    def __init__(
        self, name: str, fast: BlazeFaceDetector, small: FaceDetector, settings: CascadeSettings | None = None,
        verifier=None,
    ) -> None:
        self._name = name
        self.fast = fast
        self.small = small
        self.settings = settings or CascadeSettings()
        self._verifier = verifier  # a face parser, or its checkpoint name (loaded when first needed)
        p_net, r_net, _ = small.thresholds
        self.fallback = FaceDetector(small.loaded, small.device, thresholds=(p_net, r_net, self.settings.fallback_threshold))

    @classmethod
    def from_pretrained(
        cls, name: str = "face-detector", device: torch.device | str | None = None, **settings: float
    ) -> CascadeDetector:
        """Load ``weights/<name>/config.json`` and the checkpoints its ``parts`` name (``fast``: BlazeFace,
        ``small``: MTCNN); ``settings`` override ``CascadeSettings`` fields."""
        from facehub.hub import read_config, resolve_checkpoint

        config = read_config(resolve_checkpoint(name), name)
        device = resolve_device(str(device) if device is not None else None)
        fast = BlazeFaceDetector.from_pretrained(config["parts"]["fast"], device=device)
        small = FaceDetector.from_pretrained(config["parts"]["small"], device=device)
        return cls(name, fast, small, CascadeSettings.from_config(config, **settings), config["parts"].get("verify"))

    @property
    def name(self) -> str:
        return self._name

    def __call__(self, image: ImageInput) -> DetectionResult:
        """Detect every face in ``image`` (anything ``load_image`` accepts; (H, W, 3) uint8 is used as is)."""
        array = as_rgb_array(image)
        return DetectionResult(image=array, faces=self.detect_faces(array))

    def largest_face(self, image: ImageInput) -> Face | None:
        """The face with the largest box in ``image``, or None."""
        faces = self.detect_faces(as_rgb_array(image))
        return largest_face(faces) if faces else None

    @torch.inference_mode()
    def detect_faces(self, image: np.ndarray) -> list[Face]:
        """Every face in ``image`` (H, W, 3) uint8 RGB, by descending score (pixel-centre coordinates)."""
        faces = self._find(image)
        return self._verified(image, faces) if self.settings.verify_below > 0 else faces

    def _find(self, image: np.ndarray) -> list[Face]:
        """The passes of the module docstring, before any verification."""
        s = self.settings
        longer = float(max(image.shape[:2]))
        inputs = [letterbox(image, self.fast.input_size)]
        if s.padded_threshold > 0:
            inputs.append(letterbox(image, self.fast.input_size, s.pad))
        faces = self._run(inputs, [self.fast.score_threshold, s.padded_threshold])
        if not faces:  # profiles, faces cut by the frame: padded and mirrored, then MTCNN
            mirrored = letterbox(np.ascontiguousarray(image[:, ::-1]), self.fast.input_size)
            padded = letterbox(image, self.fast.input_size, s.pad)
            faces = self._run([padded, mirrored], [s.retry_threshold] * 2, mirrored_width=image.shape[1])
            return faces or self.fallback(image).faces
        portrait = s.portrait if longer >= s.small_photo_side else s.small_photo_portrait
        widest = max(f.box[2] - f.box[0] for f in faces)
        if len(faces) == 1 and widest >= portrait * longer:
            if faces[0].score < s.rotate_below:  # an unsure lone face: a tilted one may be beside it
                faces = _merge(faces, self._rotated(letterbox(image, self.fast.input_size, s.pad)), s.overlap)
            return faces
        if s.padded_threshold <= 0 or s.rotation > 0:  # one padded letterbox serves both passes
            padded = letterbox(image, self.fast.input_size, s.pad)
            if s.padded_threshold <= 0:  # faces cut by the frame, in a group
                faces = _merge(faces, self._run([padded], [self.fast.score_threshold]), s.overlap)
            faces = _merge(faces, self._rotated(padded), s.overlap)
        # a group's faces are about one size: MTCNN looks up to a little above the widest found, and at least small_below
        largest = max(s.small_below * longer, s.group_reach * widest) if len(faces) > 1 else s.small_below * longer
        return _merge(faces, self.small(image, max_face_size=largest).faces, s.overlap)

    def _rotated(self, padded: tuple[torch.Tensor, Letterbox]) -> list[Face]:
        """Faces tilted far in the image plane: BlazeFace on the photo's ``padded`` letterbox (``letterbox`` with the
        ``pad`` setting) turned by +-``rotation`` degrees about its centre, at ``rotated_threshold``; boxes and points
        turned back."""
        s = self.settings
        if s.rotation <= 0:
            return []
        tensor, box = padded
        angles = np.deg2rad([s.rotation, -s.rotation])
        turns = torch.tensor([[[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]] for a in angles], dtype=tensor.dtype)
        grid = torch.nn.functional.affine_grid(turns, [len(angles), *tensor.shape[1:]], align_corners=False)
        turned = torch.nn.functional.grid_sample(tensor.expand(len(angles), -1, -1, -1) + 1, grid, align_corners=False) - 1
        found = self.fast.run_batch(turned, [box] * len(angles), [s.rotated_threshold] * len(angles))
        centre = np.array([box.x0 + box.side / 2, box.y0 + box.side / 2]) - 0.5  # pixel-centre coordinates
        back = []  # a face turned back keeps its size; its box is centred where its turned box's centre lands
        for turn, (boxes, scores, keypoints) in zip(turns[:, :, :2].double().numpy(), found):
            for face in self.fast.to_faces(boxes, scores, keypoints):
                middle, half = (face.box[:2] + face.box[2:]) / 2, (face.box[2:] - face.box[:2]) / 2
                moved = centre + (middle - centre) @ turn.T
                back.append(Face(np.r_[moved - half, moved + half], face.score, centre + (face.points - centre) @ turn.T))
        return _merge([], back, s.overlap)  # where both turns see a face, the better-scored one

    def _verified(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """``faces`` without those under ``verify_below`` whose parse shows no facial features (see the settings)."""
        unsure = [f for f in faces if f.score < self.settings.verify_below]
        if not unsure:  # the common case: nothing to parse
            return faces
        shares = facial_feature_shares(self.verifier(image, faces=unsure))
        dropped = {id(f) for f, share in zip(unsure, shares) if share < self.settings.verify_min_features}
        return [f for f in faces if id(f) not in dropped]

    @property
    def verifier(self):
        """The face parser that verifies low-score faces (``parts.verify`` of the config; loaded on first use)."""
        if self._verifier is None or isinstance(self._verifier, str):
            from facehub.parsing.predictor import FaceParser

            self._verifier = FaceParser.from_pretrained(self._verifier or "bisenet", device=self.fast.device)
        return self._verifier

    def _run(self, inputs: list, thresholds: list[float], mirrored_width: int | None = None) -> list[Face]:
        """One BlazeFace forward pass on ``inputs`` (``letterbox`` outputs), merged; with ``mirrored_width`` the
        second input is the mirrored photo (of that width) and its faces are mirrored back."""
        tensor = torch.cat([t for t, _ in inputs])
        found = self.fast.run_batch(tensor, [box for _, box in inputs], thresholds[: len(inputs)])
        if mirrored_width is not None:
            boxes, scores, keypoints = found[1]
            width = mirrored_width
            boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)
            keypoints = keypoints[:, MIRRORED_KEYPOINTS] * [-1, 1] + [width, 0]
            found[1] = (boxes, scores, keypoints)
        faces: list[Face] = []
        for boxes, scores, keypoints in found:
            faces = _merge(faces, self.fast.to_faces(boxes, scores, keypoints), self.settings.overlap)
        return faces


FACIAL_FEATURES = ("nose", "l_eye", "r_eye", "l_brow", "r_brow", "u_lip", "l_lip", "mouth")  # CelebAMask-HQ's names


def facial_feature_shares(parsed) -> list[float]:
    """For each face of ``parsed`` (a ``ParsingResult``): the share of its box (clipped to the photo) that its own
    parse (``face_index``) labels with one of ``FACIAL_FEATURES``, in [0, 1]."""
    indices = [i for i, name in enumerate(parsed.labels) if name in FACIAL_FEATURES]
    if not indices:  # a parser with another label set would see no face anywhere
        raise ValueError(f"The verifying parser's labels {list(parsed.labels)} include none of {list(FACIAL_FEATURES)}; "
                         "set the face detector's parts.verify to a CelebAMask-HQ-19 parser (bisenet) or verify_below to 0.")
    features = np.isin(parsed.class_map, indices)
    height, width = parsed.class_map.shape
    shares = []
    for index, face in enumerate(parsed.faces):
        x0, y0, x1, y1 = np.clip(np.round(face.box), 0, [width, height, width, height]).astype(int)
        area = max(1, (x1 - x0) * (y1 - y0))
        shares.append(float((features[y0:y1, x0:x1] & (parsed.face_index[y0:y1, x0:x1] == index)).sum()) / area)
    return shares


def _merge(kept: list[Face], extra: list[Face], overlap: float) -> list[Face]:
    """``kept`` plus each face of ``extra`` (best first) that overlaps no face so far by IoU above ``overlap``;
    by descending score."""
    faces = list(kept)
    for face in sorted(extra, key=lambda f: -f.score):
        boxes = torch.from_numpy(np.stack([f.box for f in faces])) if faces else None
        if boxes is None or float(box_overlap(torch.from_numpy(face.box[None]), others=boxes).max()) <= overlap:
            faces.append(face)
    return sorted(faces, key=lambda f: -f.score)
