"""Convert facenet-pytorch 2.6.0's MTCNN weights into ``weights/mtcnn/``.

    python scripts/convert_mtcnn.py [--wheel PATH] [--out weights/mtcnn]

Without ``--wheel`` it runs ``pip download --no-deps facenet-pytorch==2.6.0``
into a temporary folder. The wheel is read as a zip; its ``pnet.pt``,
``rnet.pt`` and ``onet.pt`` are the only pickles FaceHub ever loads (here, once,
with ``weights_only=True``). The package itself is never imported or installed.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.detection.models.mtcnn import MTCNN  # noqa: E402
from facehub.hub import ModelCard, save_pretrained  # noqa: E402

VERSION = "2.6.0"
STAGES = ("pnet", "rnet", "onet")
METRICS = {
    "ytf68 detection rate (3,403 faces)": "1.000",
    "ytf68 5-point error / inter-ocular (mean, median)": "0.084, 0.078",
    "CPU ms per 512x512 portrait (1 thread, process time)": "about 50",
}
DEFAULTS = {
    "thresholds": [0.6, 0.7, 0.9],  # O-Net 0.9, not 0.7: drops a false face on examples/astronaut.jpg
    "min_face_size": 20,
    "factor": 0.709,
    "max_side": 1024,
    "nms": {"pnet_scale": 0.5, "pnet": 0.7, "rnet": 0.7, "onet_min": 0.7},
}


def fetch_wheel(folder: Path) -> Path:
    """Download the facenet-pytorch wheel (no dependencies) into ``folder``; return its path."""
    package = f"facenet-pytorch=={VERSION}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", package, "-d", str(folder)]
    subprocess.run(command, check=True)
    wheels = sorted(folder.glob(f"facenet_pytorch-{VERSION}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download did not produce a facenet_pytorch-{VERSION} wheel in {folder}")
    return wheels[0]


def read_stage(wheel: zipfile.ZipFile, stage: str) -> dict[str, torch.Tensor]:
    """State dict of one stage from ``facenet_pytorch/data/<stage>.pt`` inside the wheel."""
    data = wheel.read(f"facenet_pytorch/data/{stage}.pt")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def convert(wheel_path: Path) -> MTCNN:
    """Build an ``MTCNN`` and load the wheel's three stages into it strictly."""
    model = MTCNN()
    state: dict[str, torch.Tensor] = {}
    with zipfile.ZipFile(wheel_path) as wheel:
        for stage in STAGES:
            for key, tensor in read_stage(wheel, stage).items():
                state[f"{stage}.{key}"] = tensor.float()
    model.load_state_dict(state, strict=True)
    return model.eval()


def model_card() -> ModelCard:
    return ModelCard(
        title="MTCNN face detector (P-Net, R-Net, O-Net)",
        summary=(
            "Multi-task cascaded convolutional networks (Zhang, Zhang, Li and Qiao, 'Joint Face Detection and "
            "Alignment using Multi-task Cascaded Convolutional Networks', IEEE SPL 2016): face boxes, scores "
            "and five points (eye centres, nose tip, mouth corners). Run by `facehub.detection.detector.FaceDetector` "
            "in plain torch."
        ),
        data="None used here. The original networks were trained by the authors on WIDER FACE and CelebA.",
        training=(
            f"No training. Weights converted unchanged (fp32) by `python scripts/convert_mtcnn.py` from "
            f"`facenet_pytorch/data/{{pnet,rnet,onet}}.pt` in the facenet-pytorch {VERSION} wheel (MIT; "
            "Tim Esler), which carries Kaipeng Zhang's original Caffe weights via davidsandberg/facenet."
        ),
        license="mit",
        license_note=(
            f"MIT, as facenet-pytorch {VERSION} (Copyright (c) 2019 Timothy Esler) which distributes these "
            "weights; the original MTCNN models are by Kaipeng Zhang et al. "
            "(kpzhang93/MTCNN_face_detection_alignment, MIT)."
        ),
        metrics=METRICS,
        extra=(
            "Measured with `facehub.detection.detector.FaceDetector` defaults (thresholds 0.6/0.7/0.7, min face 20 px, "
            "factor 0.709). Detection rate: a detected box contains the centre of the 68 annotated points. "
            "Point error: mean distance of the 5 points to the eye centres (mean of each eye's 6 points), nose "
            "tip (30) and mouth corners (48, 54), over the inter-ocular distance; MTCNN's points are defined a "
            "little differently, so part of it is definitional. CPU time is one thread's, on a machine shared "
            "with several trainings (wall time there depends on the load).\n"
        ),
        tags=["face-detection", "mtcnn"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="facenet_pytorch-2.6.0 wheel (default: pip download it)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "weights" / "mtcnn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        model = convert(wheel)
    config = {"family": "mtcnn", "task": "detection", "model_args": {}, "labels": ["face"],
              "input_size": 48, "mean": [127.5] * 3, "std": [128.0] * 3, **DEFAULTS}
    folder = save_pretrained(model, config, args.out, card=model_card(), half=False)
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
