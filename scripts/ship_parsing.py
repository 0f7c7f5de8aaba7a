"""Ship a trained parser: ``<run>/best`` -> ``weights/<name>/`` (fp16 safetensors, config, model card).

    python scripts/ship_parsing.py --run runs/bisenet --name bisenet [--e2e 80] [--note "..."]

Measures ms per face (the model alone at its input size, batch 1, median of 10, 1 and 2 threads),
copies the pseudo-label overlay figure, and with ``--e2e N`` also scores the full CLI pipeline
(detector -> crop -> model -> paste-back, ``scripts/evaluate_parsing.py``): on the run's first human-labelled
set's val split (celebamask19/val) where it had one, else on N held-out photos against their full-image
pseudo-labels (a LaPa-layout folder written to ``<run>/e2e_folder``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.hub import (  # noqa: E402
    ModelCard,
    load_folder,
    save_pretrained,
    weights_root,
)
from facehub.parsing.labels import FACEHUB, LAPA, convert  # noqa: E402
from facehub.train.data import data_root  # noqa: E402
from facehub.train.parsing.dataset import load_items, yaw_proxy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INFERENCE_SETTINGS = ("fade_band",)  # e.g. the seam fade measured on the CLI (weights/bisenet card); kept when re-shipping


def ms_per_face(model: torch.nn.Module, size: int, threads: int, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def write_e2e_folder(folder: Path, count: int) -> Path:
    """Held-out photos (half CelebA-HQ, half ytf68, turned faces first) in LaPa layout, labels converted to LaPa-11."""
    items = load_items("val")
    celeb = [i for i in items if i.dataset == "celebamask_hair_val"]
    ytf = sorted([i for i in items if i.dataset == "ytf68"], key=lambda i: -yaw_proxy(i.points5))
    picks = celeb[: count // 2] + ytf[: count - count // 2]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    for item in picks:
        shutil.copy(item.image, folder / "images" / item.image.name)
        label = convert(np.asarray(Image.open(item.label)), FACEHUB, LAPA)
        Image.fromarray(label).save(folder / "labels" / f"{item.image.stem}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--title", default="")
    parser.add_argument("--e2e", type=int, default=0)
    parser.add_argument("--note", default="", help="extra markdown for the card (architecture, comparisons)")
    args = parser.parse_args()
    best = args.run / "best"
    loaded = load_folder(best, args.name)  # aux heads stay in the state dict (strict loading); not run at inference
    model, config = loaded.model, loaded.config
    metrics = json.loads((best / "metrics.json").read_text())
    train_config = json.loads((args.run / "train_config.json").read_text())
    timing = {threads: ms_per_face(model, config["input_size"], threads) for threads in (1, 2)}
    out = weights_root() / args.name
    out.mkdir(parents=True, exist_ok=True)
    if (out / "config.json").is_file():  # inference settings chosen on the shipped model (not by training) stay
        shipped = json.loads((out / "config.json").read_text())
        config = {**config, **{k: shipped[k] for k in INFERENCE_SETTINGS if k in shipped}}
    overlay = weights_root() / "bisenet" / "pseudo_labels.png"
    if overlay.is_file() and not (out / "pseudo_labels.png").is_file():
        shutil.copy(overlay, out / "pseudo_labels.png")
    names = config["labels"]
    human_sets = [n for n in train_config.get("human_sets", "").split(",") if n]
    table = {f"val human-label F1 {k.removeprefix('human_')}": round(v, 3)
             for k, v in metrics.items() if k.startswith("human_") and k != "human_mean11"}
    if "human_mean11" in metrics:
        table["val human-label group mean (11 groups, aligned crops)"] = round(metrics["human_mean11"], 4)
    table.update({f"val F1 {n}": round(metrics[f"f1_{n}"], 3) for n in names
                  if f"f1_{n}" in metrics and metrics[f"f1_{n}"] == metrics[f"f1_{n}"]})  # nan: class never seen
    table.update({f"val coarse F1 {n}": round(metrics[f"coarse_{n}"], 3) for n in ("background", "skin", "hair", "eyes", "nose", "mouth")})
    table["val coarse mean5 (skin, hair, eyes, nose, mouth)"] = round(metrics["coarse_mean5"], 4)
    if "turned_mean5" in metrics:
        table["val coarse mean5, turned faces (yaw proxy > 0.25)"] = round(metrics["turned_mean5"], 4)
    table["val images"] = int(metrics["val_images"])
    table["ms per face, model only, 1 thread"] = round(timing[1], 1)
    table["ms per face, model only, 2 threads"] = round(timing[2], 1)
    pseudo = ("`celebamask_hair` (CelebA-HQ, 742 train / 153 val), `figaro1k_hair` (748, 243 with a face found), "
              "`ytf68` (YouTube Faces frames, 3,403) with **pseudo-labels**: face regions (skin, brows, eyes, nose, lips, "
              "inner mouth) are MediaPipe Face Mesh (0.10.21, Apache-2.0) triangles filled one by one in depth order; "
              "**hair is the real human-made hair mask** (CelebAMask-HQ, Figaro1k); forehead, ears and neck are person-mask "
              "(MediaPipe selfie segmentation) pixels beside / below the mesh whose colour matches the face's skin; cloth is "
              "non-skin person pixels below the chin (hair-masked photos only); everything uncertain is ignored (255), e.g. "
              "hair on ytf68. Held out: all of celebamask_hair/val and every tenth ytf68 person. `pseudo_labels.png` shows "
              "label overlays (white = ignore).\n\n![pseudo-labels](pseudo_labels.png)")
    if human_sets:
        data = (f"**Human labels**: {', '.join(f'`{n}`' for n in human_sets)} (celebamask19: 750 train / 100 val CelebA-HQ "
                f"portraits, CelebAMask-HQ's 19 classes), {train_config['human_share']:.0%} of the samples; the rest: "
                + pseudo + (" Teacher pixels are partial labels (`facehub/train/parsing/partial.py`: its skin may be "
                            "glasses, its neck a necklace)." if train_config.get("partial_labels") else ""))
    else:
        data = "Photos: " + pseudo
    card = lambda extra_metrics: ModelCard(  # noqa: E731
        title=args.title or f"FaceHub {args.name}",
        summary=(f"Face parser ({config['family']}), {len(names)} classes: {', '.join(names)}. "
                 f"Input: {config['input_size']} px aligned crops (facehub CropSpec zoom {config['crop']['zoom']}, "
                 f"shift_y {config['crop']['shift_y']}) from the detector's five points; `facehub.load(\"{args.name}\")`."),
        data=data,
        training=(f"`python scripts/train_parsing.py` with {json.dumps({k: train_config.get(k) for k in ('family', 'input_size', 'zoom', 'shift_y', 'batch', 'lr', 'schedule', 'ohem_keep', 'dice', 'aux', 'reward', 'human_share', 'partial_labels', 'max_steps', 'minutes')})}; "
                  f"model_args {json.dumps(config['model_args'])}. {metrics['step']} steps in {metrics['minutes']:.0f} min "
                  "of wall time on this 2-core CPU. Augmentation: five-point "
                  "jitter, rotation +-30 deg (15% of samples +-50), scale 0.8-1.25, shift, horizontal flip with left/right class swap, "
                  "colour, grey, blur, low resolution; turned faces oversampled 2-3x. Loss: OHEM cross-entropy + 0.5 soft Dice "
                  "(+ 0.4 x auxiliary heads for BiSeNet)" + (f" + {train_config['reward']} x REINFORCE per-image F1"
                                                              if train_config.get("reward") else "")
                  + (f". Started from `{train_config['init_from']}`." if train_config.get("init_from") else ". From scratch.")),
        metrics={**table, **extra_metrics},
        extra=("Validation F1 on aligned crops: the human-label rows are celebamask19/val; the other rows are held-out "
               "photos scored **against pseudo-labels** (ignore pixels skipped): they say how well the student learned its "
               "teacher. Ears and neck count as skin and eyebrows as hair in the coarse classes.\n\n" + args.note),
        license_note=("Research use only: trained on CelebA-HQ / CelebAMask-HQ (non-commercial research), Figaro1k and "
                      "YouTube Faces (research use). The MediaPipe teacher is Apache-2.0."),
        tags=["face-parsing", "image-segmentation"],
    )
    save_pretrained(model, config, out, card({}), half=True)
    print(json.dumps(table, indent=1))
    if args.e2e:
        scores_path = args.run / "e2e.json"
        if human_sets:  # the CLI on celebamask19/val, as the hidden CelebAMask-HQ-19 set is scored
            folder, split = data_root() / human_sets[0], ["--split", "val"]
        else:
            folder, split = write_e2e_folder(args.run / "e2e_folder", args.e2e), []
        subprocess.run([sys.executable, "scripts/evaluate_parsing.py", str(folder), *split, "--model", args.name,
                        "--json", str(scores_path)], check=True, cwd=ROOT)
        scores = json.loads(scores_path.read_text())
        extra = {f"CLI group F1 {k}": v for k, v in scores["groups"].items() if v == v}
        extra.update({f"CLI coarse F1 {k}": v for k, v in scores["coarse_f1"].items()})
        extra[f"CLI coarse mean5 ({scores['images']} held-out photos, CLI pipeline)"] = scores["mean5"]
        (out / "README.md").write_text(card(extra).render())
        print(json.dumps(extra, indent=1))


if __name__ == "__main__":
    main()
