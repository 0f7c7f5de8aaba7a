"""Average the weights of checkpoint folders of one architecture into a new checkpoint folder (fp16 safetensors).

    python scripts/average_weights.py runs/pipnet_s10/best runs/pipnet_s11x/best \
        --config weights/pipnet/config.json --out weights/pipnet

Each input is a ``save_pretrained`` folder (config.json + model.safetensors, e.g. a run's ``best/``); the output's
config.json is ``--config``'s (default: the first input's), its model card (README.md) is left as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.hub import load_folder, save_pretrained  # noqa: E402
from facehub.train.soup import average_state_dicts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", type=Path, nargs="+", help="checkpoint folders (config.json + model.safetensors)")
    parser.add_argument("--config", type=Path, default=None, help="config.json for the output (default: the first input's)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fp32", action="store_true", help="keep fp32 weights (default: fp16)")
    args = parser.parse_args()
    models = [load_folder(folder) for folder in args.inputs]
    model = models[0].model
    model.load_state_dict(average_state_dicts([m.model.state_dict() for m in models]), strict=True)
    config = json.loads(args.config.read_text()) if args.config else models[0].config
    save_pretrained(model, config, args.out, card=None, half=not args.fp32)
    print(f"averaged {len(models)} checkpoints into {args.out}")


if __name__ == "__main__":
    main()
