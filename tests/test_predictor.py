"""``facehub.predictor``: faces in every form, and what running the shipped predictors imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facehub.detection.result import DetectionResult, Face
from facehub.geometry.five_points import BOX_TEMPLATE_5
from facehub.hub import weights_root
from facehub.predictor import as_faces, face_points
from facehub.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
FACE = Face(np.array([10.0, 20, 110, 140]), 0.9, np.array([[40.0, 60], [80, 60], [60, 90], [45, 110], [75, 110]]))


def test_face_objects_and_detection_results_pass_through() -> None:
    assert as_faces(FACE) == [FACE]
    assert as_faces([FACE, FACE]) == [FACE, FACE]
    assert as_faces(DetectionResult(np.zeros((4, 4, 3), np.uint8), [FACE])) == [FACE]
    assert as_faces([]) == [] and as_faces(np.zeros((0, 4))) == [] and as_faces(np.zeros((0, 5, 2))) == []


def test_five_points_become_faces_with_a_fitted_box() -> None:
    points = np.stack([FACE.points, FACE.points + 200])
    faces = as_faces(points)
    assert len(faces) == 2 and all(f.score == 1.0 for f in faces)
    np.testing.assert_array_equal(face_points(faces), points)
    assert as_faces(FACE.points)[0].points.tolist() == FACE.points.tolist()  # one face, (5, 2)
    box = faces[0].box
    assert box[0] < FACE.points[:, 0].min() and box[2] > FACE.points[:, 0].max()
    assert box[1] < FACE.points[:, 1].min() and box[3] > FACE.points[:, 1].max()


def test_boxes_get_template_points_and_do_not_share_memory() -> None:
    boxes = np.array([[0.0, 0, 100, 200], [50, 50, 60, 60]])
    faces = as_faces(boxes)
    np.testing.assert_allclose(faces[0].points, BOX_TEMPLATE_5 * [100, 200])
    np.testing.assert_allclose(faces[1].points, BOX_TEMPLATE_5 * 10 + 50)
    boxes[0] = -1
    assert faces[0].box[2] == 100
    assert len(as_faces([10, 20, 30, 40])) == 1


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), np.zeros((2, 68, 2)), np.zeros((5,)), [[1, 2], [3, 4]]])
def test_other_shapes_are_refused_with_the_forms_named(bad) -> None:
    with pytest.raises(ValueError, match=r"boxes \(F, 4\).*five points \(F, 5, 2\)"):
        as_faces(bad)


RUN_EVERY_PREDICTOR = """
import json, sys
import torch
torch.set_num_threads(1)
import facehub
from facehub.hub import weights_root
from facehub.image import load_image

a, b = load_image("examples/astronaut.jpg"), load_image("examples/grace_hopper.jpg")
found = {}
for name, spec in facehub.REGISTRY.items():
    if not (weights_root() / name / "model.safetensors").is_file():
        continue
    predictor = facehub.load(name, device="cpu")
    result = predictor(b, a, parts=("hair",), method="gan") if spec.task == "editing" else predictor(a)
    found[name] = len(result.faces)
print(json.dumps({"faces": found, "modules": sorted(sys.modules)}))
"""


def test_running_every_shipped_predictor_imports_no_training_code() -> None:
    shipped = [name for name in REGISTRY if (weights_root() / name / "model.safetensors").is_file()]
    if not shipped:
        pytest.skip("no weights shipped")
    done = subprocess.run([sys.executable, "-c", RUN_EVERY_PREDICTOR], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=600)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(report["faces"]) == sorted(shipped)
    assert all(count >= 1 for count in report["faces"].values()), report["faces"]  # each one really ran
    # tqdm is not listed: huggingface_hub (a runtime requirement) imports it
    forbidden = [m for m in report["modules"] if m == "facehub.train" or m.startswith("facehub.train.")
                 or m.split(".")[0] in ("cv2", "mediapipe", "scipy", "gradio")]
    assert forbidden == [] and "facehub.predictor" in report["modules"]
