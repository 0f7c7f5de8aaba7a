"""Train a face parser (BiSeNet or the face transformer) on the pseudo-label cache.

    python scripts/pseudo_label_parsing.py            # once: cache/parsing/
    python scripts/train_parsing.py --family bisenet --out runs/bisenet --minutes 75
    python scripts/train_parsing.py --family face_transformer --out runs/ft --reward 0.5   # REINFORCE F1 term
    python scripts/train_parsing.py ... --resume       # continue from <out>/last.pt
    torchrun --nproc_per_node 4 scripts/train_parsing.py ...   # DDP: --batch per process

The best checkpoint is exported to ``<out>/best/`` (config.json + model.safetensors);
``--push-to-hub REPO`` uploads it afterwards. The loop is ``facehub.train.engine``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.hub import CONFIG_NAME, read_config  # noqa: E402
from facehub.train.distributed import is_main_process  # noqa: E402
from facehub.train.parsing.recipe import ParsingConfig, compare_reward, train  # noqa: E402

DEFAULT_ARGS = {
    "bisenet": {"backbone_width": 32, "spatial_width": 32, "context_width": 64, "fuse_width": 128, "detail_skip": True},
    "face_transformer": {"image_size": 256, "patch": 16, "dim": 192, "depth": 6, "heads": 3, "mlp": 384,
                         "decoder_width": 64, "skip": True, "skip_width": 32},
}


def starting_args(family: str, init_from: str) -> dict:
    """The architecture of an ``--init-from`` checkpoint folder of the same family (classes excepted: they follow
    ``--label-set``), else ``DEFAULT_ARGS[family]``: fine-tuning a shipped model needs no ``--model-args``."""
    if init_from and (Path(init_from) / CONFIG_NAME).is_file():
        config = read_config(Path(init_from), init_from)
        if config["family"] == family:
            return {k: v for k, v in config["model_args"].items() if k != "num_classes"}
    return dict(DEFAULT_ARGS[family])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = ParsingConfig()
    for f in fields(ParsingConfig):
        if f.name == "model_args":
            continue
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            parser.add_argument("--" + f.name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument("--" + f.name.replace("_", "-"), type=type(default), default=default)
    parser.add_argument("--model-args", type=json.loads, default=None, help="JSON constructor kwargs of the family")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--compare-reward", type=int, default=0, metavar="STEPS",
                        help="from --init-from: STEPS of CE vs STEPS of CE + REINFORCE F1 (same batches), then stop")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO")
    args = parser.parse_args()
    values = {f.name: getattr(args, f.name) for f in fields(ParsingConfig) if f.name != "model_args"}
    config = ParsingConfig(**values, model_args=args.model_args or starting_args(args.family, args.init_from))
    if args.family == "face_transformer":
        config.model_args.setdefault("image_size", config.input_size)
    if args.compare_reward:
        results = compare_reward(config, args.compare_reward)
        print(json.dumps({k: {m: v[m] for m in ("coarse_mean5", "turned_mean5") if m in v} for k, v in results.items()}))
        return
    best = train(config, resume=args.resume)
    if is_main_process():
        print(f"best checkpoint: {best}")
        if args.push_to_hub:
            from facehub.hub import push_to_hub

            print(push_to_hub(best, args.push_to_hub))


if __name__ == "__main__":
    main()
