"""Ship a PRNet training checkpoint as ``weights/prnet`` (config.json, fp16 safetensors, model card).

    python scripts/export_prnet.py --checkpoint runs/prnet/best.pt --log runs/prnet/log.csv \
        --eval runs/prnet/eval.json --ms-per-face 25 --out weights/prnet

``--checkpoint`` is a run's ``best.pt`` / ``last.pt`` or its ``best/`` folder. ``--eval`` is the JSON
written by ``scripts/evaluate_prnet.py --out``; its numbers go into the card. The weights are
stored in fp16 unless that moves a 68 point by 0.1 px or more on random crops (or ``--fp32``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.train.reconstruction.export import ExportOptions, export_prnet  # noqa: E402


def main() -> None:
    d = ExportOptions()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=d.checkpoint)
    parser.add_argument("--log", type=Path, default=d.log)
    parser.add_argument("--eval", type=Path, help="evaluate_prnet.py report (JSON)")
    parser.add_argument("--ms-per-face", type=str, default=d.ms_per_face)
    parser.add_argument("--refine-passes", type=int, default=d.refine_passes)
    parser.add_argument("--refine-min-shift", type=float, default=d.refine_min_shift,
                        help="refine only faces whose crop moves by more than this share of its side")
    parser.add_argument("--flip-test", action="store_true", help="average with the mirrored crop at inference")
    parser.add_argument("--profile-jaw", default=d.profile_jaw,
                        help="FROM,FULL,DEPTH: the far jaw of faces turned past FROM degrees on the 3D jaw (facehub.geometry.profile_jaw); '' = off")
    parser.add_argument("--pose-calibration", default=d.pose_calibration,
                        help="GAIN,FROM_YAW: turn fitted poses past FROM_YAW degrees by GAIN per degree (YawCalibration); '' = off")
    parser.add_argument("--landmarks", default=d.landmarks,
                        help="NAME[:WEIGHT[,JAW_WEIGHT[,FLIP_BELOW_YAW]]] (e.g. pipnet:0.75,0.25,50): average the 68 points' x, y with that landmark model's (the jaw, points 0-16, at JAW_WEIGHT if given; the landmark model averaging in its mirrored crop for faces it reads under FLIP_BELOW_YAW degrees); '' = none")
    parser.add_argument("--map-68", type=Path, help="the model's own 468 -> 68 map (fit_68_map.py --student)")
    parser.add_argument("--out", type=Path, default=d.out)
    parser.add_argument("--fp32", action="store_true")
    parser.add_argument("--note", default="", help="markdown appended to the card's training section (stages, commands)")
    parser.add_argument("--extra", default="", help="markdown appended to the card's end (e.g. how inference settings were chosen)")
    _, metrics = export_prnet(ExportOptions(**vars(parser.parse_args())))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
