"""3D face reconstruction: ``facehub.load("prnet")(image) -> ReconstructionResult``.

Every detected face (or every face the caller passes, ``predictor(image, faces=...)``)
is aligned from its five points to the model's crop;
PRNet regresses its UV position map in crop pixels, which is mapped back to
the photo (x, y by the inverse alignment, z divided by the alignment's
scale). From the map come the 468 MediaPipe-layout vertices (least-squares
sampling), the 68 iBUG landmarks (fitted 468 -> 68 map), the head pose
(rigid fit to the canonical mesh) and a dense mesh with per-vertex colours.
"""

from __future__ import annotations

import numpy as np
import torch

from facehub.detection.result import Face
from facehub.errors import CheckpointError
from facehub.geometry.align import crop_shift, invert_affine
from facehub.geometry.five_points import five_points_from_468
from facehub.geometry.profile_jaw import ProfileJaw, hide_far_jaw
from facehub.image import ImageInput
from facehub.predictor import FacesInput, Predictor
from facehub.reconstruction.mesh import (
    Mesh,
    YawCalibration,
    head_pose_68,
    sample_colours,
)
from facehub.reconstruction.result import (
    ReconstructedFace,
    ReconstructionResult,
)
from facehub.reconstruction.uv import points_468_to_68, uv_layout


def to_image_space(crop_map: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Crop-pixel position map (3, S, S) -> photo pixels, by the inverse of ``matrix`` (2x3 image -> crop)."""
    inverse = invert_affine(matrix)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    xy = np.einsum("ij,jhw->ihw", inverse[:, :2], crop_map[:2]) + inverse[:, 2, None, None]
    return np.concatenate([xy, crop_map[2:] / scale]).astype(np.float32)


class FaceReconstructor(Predictor):
    """PRNet predictor; ``config`` must hold ``uv_size`` besides the common keys.

    ``refine_passes`` (argument or config key, default 0): re-align each crop
    from the five points of the previous prediction and run the model again,
    so that the crop matches the training alignment rather than MTCNN's.
    ``refine_min_shift`` (argument or config key, default 0): a refine pass re-runs only the faces whose
    re-aligned crop moves by more than that share of its side (``facehub.geometry.align.crop_shift``), so a
    face the previous pass already framed keeps its maps and its cost.
    ``flip_test`` (argument or config key, default False): also run the
    mirrored crop and average the two maps (the UV layout is left-right symmetric).
    ``map_68`` (config key, optional ``{"indices", "weights"}``): the 468 -> 68 map
    for the output landmarks; the crop alignment keeps the teacher map it was trained with.
    ``profile_jaw`` (config key; argument ``False`` turns it off): the far side of a turned face's 68-point jaw read
    from the 3D jaw as AFLW2000-3D places it (``facehub.geometry.profile_jaw``; MediaPipe's face oval, which the
    468 -> 68 map reads it from, lies on the front of the cheek).
    ``landmarks`` (config key ``{"model": NAME, "weight": W}``; argument: a ``LandmarkPredictor``, or ``False`` for
    none): the 68 points' x, y are averaged with that landmark model's on the same faces (weight ``W`` for its
    points; z stays the mesh's), before ``profile_jaw``. A dedicated 2D model places the eyes, brows, nose and mouth
    more closely than the mesh does, and the two err differently (see the card). ``"jaw_weight": J`` (default ``W``)
    sets the landmark model's share for the jaw (points 0-16) alone: its jaw follows 2D annotators' outline, the
    mesh's the 3D jaw that AFLW2000-3D labels. ``"flip_test"`` and ``"flip_below_yaw": Y`` are passed to the landmark
    model (``LandmarkPredictor``): with Y it averages in its mirrored crop for the faces it reads under Y degrees of
    yaw, which suits these points' mirror-symmetric 3D convention (not 2D annotators', see the card).
    The head pose is fitted to those 68 points' eyes, brows, nose and mouth (``head_pose_68``: x, y as averaged, z the
    mesh's), not to the 468 mesh points: on AFLW2000-3D val it reads turned faces closer to their labels (card).
    ``pose_calibration`` (config key, optional): the fitted rotation turned further past a yaw (``YawCalibration``).
    """

    task = "reconstruction"

    def __init__(
        self, loaded, detector=None, device=None, refine_passes: int | None = None, flip_test: bool | None = None,
        refine_min_shift: float | None = None, profile_jaw: bool | None = None, landmarks=None,
    ):
        super().__init__(loaded, detector=detector, device=device)
        self.model.to(memory_format=torch.channels_last)  # see _run
        self.refine_passes = int(self.config.get("refine_passes", 0) if refine_passes is None else refine_passes)
        self.refine_min_shift = float(self.config.get("refine_min_shift", 0.0) if refine_min_shift is None else refine_min_shift)
        self.flip_test = bool(self.config.get("flip_test", False) if flip_test is None else flip_test)
        self.layout = uv_layout(int(self.config["uv_size"]))
        self.profile_jaw = ProfileJaw.from_config(self.config) if profile_jaw is not False else None
        self.pose_calibration = YawCalibration.from_config(self.config)
        part = self.config.get("landmarks") or {}
        self.landmark_weight = float(part.get("weight", 0.5))
        # (68, 1): the landmark model's share per point; the jaw (0-16) may take its own (``jaw_weight``).
        self.point_weights = np.full((68, 1), self.landmark_weight)
        self.point_weights[:17] = float(part.get("jaw_weight", self.landmark_weight))
        self.landmarker = None if landmarks is False else landmarks
        if landmarks is None and part:
            from facehub.landmarks.predictor import LandmarkPredictor

            try:
                self.landmarker = LandmarkPredictor.from_pretrained(
                    part["model"], device=self.device, profile_jaw=False,
                    flip_test=part.get("flip_test"), flip_below_yaw=part.get("flip_below_yaw"),
                )
            except CheckpointError as error:
                raise CheckpointError(
                    f"{self.name}'s 68 points average in the {part['model']!r} landmark model's (config.json "
                    f"'landmarks'), which cannot be loaded: {error} Or load {self.name} with landmarks=False."
                ) from None
        # The model's own 468 -> 68 map (fitted on its predictions, scripts/fit_68_map.py --student), if shipped.
        own = self.config.get("map_68")
        self.map_68 = (np.asarray(own["indices"]), np.asarray(own["weights"], dtype=np.float64)) if own else None
        self.triangles = self.layout.grid_triangles()
        self.texcoords = self.layout.uv_of_pixels()

    @torch.inference_mode()
    def predict_maps(self, crops: torch.Tensor) -> np.ndarray:
        """Normalised crops (F, 3, s, s) -> position maps (F, 3, S, S) float32 in crop pixels."""
        if len(crops) == 0:
            return np.zeros((0, 3, self.layout.size, self.layout.size), dtype=np.float32)
        crops = crops.to(self.device)
        if not self.flip_test:
            return self._run(crops).numpy()
        both = self._run(torch.cat([crops, crops.flip(-1)]))
        plain, mirrored = both[: len(crops)], both[len(crops) :].flip(-1)
        mirrored[:, 0] = crops.shape[-1] - 1 - mirrored[:, 0]
        return ((plain + mirrored) / 2).numpy()

    def _run(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, 3, s, s) -> (B, 3, S, S) float32 on the CPU, contiguous. The model runs on channels-last tensors: its
        transposed convolutions are about a quarter faster so on the CPU (outputs within 2e-4 crop px of NCHW's)."""
        out = self.forward(crops.contiguous(memory_format=torch.channels_last))
        return out.float().cpu().contiguous()

    def reconstruct_face(
        self, image: np.ndarray, face: Face, crop_map: np.ndarray, matrix: np.ndarray, points68: np.ndarray | None = None
    ) -> ReconstructedFace:
        """One face from its crop-space map (3, S, S) and alignment ``matrix``; ``points68`` (68, 2): the landmark
        model's photo points for this face, averaged into the 68 landmarks (see ``landmarks``)."""
        position_map = to_image_space(crop_map, matrix)
        vertices468 = self.layout.sample(position_map).astype(np.float64)
        dense = self.layout.dense_vertices(position_map).astype(np.float64)
        mesh = Mesh(dense, sample_colours(image, dense[:, :2]), self.triangles, self.texcoords)
        landmarks3d = points_468_to_68(vertices468, self.map_68)
        if points68 is not None:
            landmarks3d[:, :2] = (1 - self.point_weights) * landmarks3d[:, :2] + self.point_weights * points68
        if self.profile_jaw is not None:
            landmarks3d = hide_far_jaw(landmarks3d, self.profile_jaw)
        return ReconstructedFace(
            face=face,
            vertices468=vertices468,
            landmarks3d=landmarks3d,
            pose=head_pose_68(landmarks3d, self.pose_calibration),
            mesh=mesh,
            position_map=position_map,
        )

    def locate(self, image: np.ndarray, points5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop-space maps (F, 3, S, S) and matrices (F, 2, 3) for faces given by five points (F, 5, 2)."""
        _, crops, matrices = self.crop(image, points5)
        return self.predict_maps(crops), matrices

    def refine(self, image: np.ndarray, maps: np.ndarray, matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One more pass, aligned from the five points of the current maps' 68 landmarks, for the faces whose
        crop moves by more than ``refine_min_shift`` (every face at 0); the others keep their maps."""
        if len(maps) == 0:
            return maps, matrices
        points5 = []
        for crop_map, matrix in zip(maps, matrices):
            vertices = self.layout.sample(to_image_space(crop_map, matrix)).astype(np.float64)
            points5.append(five_points_from_468(vertices))  # through the teacher's 468 -> 68 map, as trained
        points5 = np.stack(points5)
        redo = np.flatnonzero(crop_shift(matrices, points5, self.crop_spec) > self.refine_min_shift)
        maps, matrices = maps.copy(), matrices.copy()
        if len(redo):
            maps[redo], matrices[redo] = self.locate(image, points5[redo])
        return maps, matrices

    def __call__(self, source: ImageInput, faces: FacesInput | None = None) -> ReconstructionResult:
        """Reconstruct every face of ``source`` (or the given ``faces``: see ``facehub.predictor``)."""
        prepared = self.prepare(source, faces)
        maps, matrices = self.predict_maps(prepared.crops), prepared.matrices
        for _ in range(self.refine_passes):
            maps, matrices = self.refine(prepared.image, maps, matrices)
        points68 = [None] * len(maps)
        if self.landmarker is not None and len(maps):
            points68 = self.landmarker.locate(prepared.image, np.stack([f.points for f in prepared.faces]))[0]
        faces = [
            self.reconstruct_face(prepared.image, face, crop_map, matrix, points)
            for face, crop_map, matrix, points in zip(prepared.faces, maps, matrices, points68)
        ]
        return ReconstructionResult(image=prepared.image, faces=faces)
