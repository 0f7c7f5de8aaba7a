"""Train the mask-guided portrait editor (GAN) on aligned CelebAMask-HQ faces with pseudo-label masks.

    python scripts/train_editor.py --resolution 64 --minutes 45 --out runs/editor
    python scripts/train_editor.py --resume --out runs/editor --minutes 10
    python scripts/train_editor.py --export-only --out runs/editor --push-to-hub you/portrait-editor

Losses (the seed paper): local reconstruction L2 (λ=10), global reconstruction L1
on paired samples (λ=10) plus L1 on the kept background, hinge adversarial loss
from two conditional discriminators (full and half resolution) with feature
matching (λ=10, paired samples), and the cross-entropy of a frozen parser on
the output against the target mask (``--parser``; skipped when none loads).
Writes ``OUT/state.safetensors`` + ``OUT/state.json`` (resumable), sample grids
``OUT/samples/step_*.png``, a CSV log, and the checkpoint ``weights/portrait-editor/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.editing.masks import EDIT_LABELS, to_edit_labels  # noqa: E402
from facehub.editing.models.portrait_editor import PortraitEditor, make_inputs  # noqa: E402
from facehub.hub import load_state_dict_strict, read_config, save_pretrained  # noqa: E402
from facehub.registry import build_model  # noqa: E402
from facehub.train.editing import losses as L  # noqa: E402
from facehub.train.editing.dataset import (  # noqa: E402
    EDITOR_CROP,
    EditingPairs,
    build_editing_cache,
    collate,
    one_hot,
)
from facehub.train.editing.discriminators import TwoScaleDiscriminator  # noqa: E402

CRITIC = {"steps": 0, "source": ""}  # how many generator steps saw the parsing loss, and from which parser


def load_parser_critic(spec: str) -> L.ParserCritic | None:
    """A frozen parser from a checkpoint folder or name (``none`` or failure -> None)."""
    if spec == "none":
        return None
    try:
        from facehub.hub import resolve_checkpoint

        folder = Path(spec) if Path(spec).is_dir() else resolve_checkpoint(spec)
        config = read_config(folder, spec)
        model = build_model(config["family"], config["model_args"])
        load_state_dict_strict(model, folder / "model.safetensors", spec)
    except Exception as error:  # noqa: BLE001 - training goes on without the critic
        print(f"[train_editor] no parser critic ({type(error).__name__}: {error}); parsing loss off", flush=True)
        return None
    labels = config.get("labels", [])
    mapped = to_edit_labels(np.arange(len(labels)), labels)
    groups = [[i for i in range(len(labels)) if mapped[i] == c] for c in range(len(EDIT_LABELS))]
    print(f"[train_editor] parser critic from {folder}", flush=True)
    CRITIC["source"] = str(folder)
    return L.ParserCritic(model.float(), config, EDITOR_CROP, groups)


def save_state(out: Path, step: int, modules: dict[str, torch.nn.Module], optimisers: dict[str, torch.optim.Optimizer]) -> None:
    """Models and Adam moments as safetensors, the step in JSON (no pickle)."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v.detach().contiguous() for k, v in module.state_dict().items()})
    for name, opt in optimisers.items():
        for index, state in opt.state_dict()["state"].items():
            for key in ("exp_avg", "exp_avg_sq"):
                tensors[f"opt_{name}.{index}.{key}"] = state[key].contiguous()
    save_file(tensors, str(out / "state.safetensors"))
    opt_steps = {n: {str(i): float(s["step"]) for i, s in o.state_dict()["state"].items()} for n, o in optimisers.items()}
    meta = {"step": step, "opt_steps": opt_steps, "critic_steps": CRITIC["steps"], "critic": CRITIC["source"]}
    (out / "state.json").write_text(json.dumps(meta))


def load_state(out: Path, modules: dict[str, torch.nn.Module], optimisers: dict[str, torch.optim.Optimizer]) -> int:
    tensors = load_file(str(out / "state.safetensors"))
    meta = json.loads((out / "state.json").read_text())
    for name, module in modules.items():
        prefix = f"{name}."
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    for name, opt in optimisers.items():
        state = opt.state_dict()
        for index_str, step in meta["opt_steps"][name].items():
            index = int(index_str)
            state["state"][index] = {
                "step": torch.tensor(step),
                "exp_avg": tensors[f"opt_{name}.{index}.exp_avg"],
                "exp_avg_sq": tensors[f"opt_{name}.{index}.exp_avg_sq"],
            }
        opt.load_state_dict(state)
    CRITIC["steps"] = int(meta.get("critic_steps", 0))
    CRITIC["source"] = meta.get("critic", "")
    return int(meta["step"])


def sample_grid(model: PortraitEditor, batch: dict[str, torch.Tensor], path: Path) -> None:
    """Rows: source | target | paired reconstruction | target with the source's hair | all components swapped."""
    from PIL import Image

    model.eval()
    with torch.no_grad():
        src_oh, tgt_oh = one_hot(batch["source_labels"]), one_hot(batch["target_labels"])
        n = len(src_oh)
        recon = model(**make_inputs(batch["target"], tgt_oh, batch["target"], tgt_oh, torch.zeros(n, 5, dtype=torch.bool)).as_kwargs())
        hair = torch.zeros(n, 5, dtype=torch.bool)
        hair[:, 4] = True
        hair_out = model(**make_inputs(batch["source"], src_oh, batch["target"], tgt_oh, hair).as_kwargs())
        full = model(**make_inputs(batch["source"], src_oh, batch["target"], tgt_oh, torch.ones(n, 5, dtype=torch.bool)).as_kwargs())
    model.train()
    columns = [batch["source"], batch["target"], recon.image, hair_out.image, full.image]
    rows = torch.cat([torch.cat(list(c), -1) for c in zip(*columns)], -2)  # (3, n*R, 5*R)
    array = ((rows.permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5 + 0.5).byte().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def export(model: PortraitEditor, args: argparse.Namespace, step: int) -> Path:
    config = {
        "family": "portrait_editor",
        "task": "editing",
        "model_args": model_args(args),
        "labels": list(EDIT_LABELS),
        "input_size": args.resolution,
        "crop": dict(EDITOR_CROP),
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "parser": "bisenet",
        "default_method": "blend",
        "training": {
            "steps": step, "batch": args.batch, "data": "celebamask_hair_train",
            "parser_critic": f"{CRITIC['steps']} of {step} steps (parser {CRITIC['source'] or 'none'})",
        },
    }
    return save_pretrained(model, config, args.weights_out, card=None, half=False)


def model_args(args: argparse.Namespace) -> dict:
    return {"resolution": args.resolution, "num_classes": len(EDIT_LABELS), "width": args.width,
            "embed_channels": args.embed, "mask_channels": args.embed, "n_res": args.n_res, "with_decoders": True}


def train_step(model, disc, opt_g, opt_d, batch, critic, args, step) -> dict[str, float]:
    src_oh, tgt_oh = one_hot(batch["source_labels"]), one_hot(batch["target_labels"])
    inputs = make_inputs(batch["source"], src_oh, batch["target"], tgt_oh, batch["swap"])
    out = model(**inputs.as_kwargs())
    real = batch["target"]
    # discriminator
    d_real = disc(real, tgt_oh)
    d_fake = disc(out.image.detach(), tgt_oh)
    loss_d = L.d_hinge(d_real, d_fake)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # generator
    paired = batch["paired"].float()
    g_fake = disc(out.image, tgt_oh)
    loss_adv = L.g_hinge(g_fake)
    loss_fm = L.feature_matching([(r.detach(), [f.detach() for f in fs]) for r, fs in d_real], g_fake, 10.0, paired)
    loss_local = L.local_reconstruction(out.decoded, inputs.crops, 10.0)
    per_pixel = (out.image - real).abs()
    loss_global = 10.0 * (per_pixel.mean((1, 2, 3)) * paired).sum() / paired.sum().clamp(min=1)
    loss_keep = 10.0 * (per_pixel * inputs.keep).mean()
    loss = loss_adv + loss_fm + loss_local + loss_global + loss_keep
    logs = {"d": loss_d.item(), "adv": loss_adv.item(), "fm": loss_fm.item(), "local": loss_local.item(),
            "global": loss_global.item(), "keep": loss_keep.item()}
    if critic is not None and step % args.parsing_every == 0:
        k = args.parsing_batch
        loss_parse = args.parsing_weight * critic(out.image[:k], batch["target_labels"][:k])
        loss = loss + loss_parse
        logs["parse"] = loss_parse.item()
        CRITIC["steps"] += 1
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/editor"))
    parser.add_argument("--weights-out", type=Path, default=Path("weights/portrait-editor"))
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--embed", type=int, default=32)
    parser.add_argument("--n-res", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=45.0, help="wall-clock budget of this run")
    parser.add_argument("--parser", default="bisenet", help="checkpoint name or folder of the frozen parser; 'none'")
    parser.add_argument("--parsing-weight", type=float, default=1.0)
    parser.add_argument("--parsing-every", type=int, default=4)
    parser.add_argument("--parsing-batch", type=int, default=4, help="batch items the parser critic sees")
    parser.add_argument("--sample-every", type=int, default=200)
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--export-only", action="store_true", help="export OUT/state to --weights-out and stop")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)

    model = PortraitEditor(**model_args(args))
    disc = TwoScaleDiscriminator(len(EDIT_LABELS), width=args.width * 2)
    opt_g = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    modules, optimisers = {"G": model, "D": disc}, {"G": opt_g, "D": opt_d}
    step = load_state(args.out, modules, optimisers) if (args.resume or args.export_only) else 0
    if not args.export_only:
        step = run(model, disc, opt_g, opt_d, modules, optimisers, args, step)
    folder = export(model, args, step)
    print(f"[train_editor] exported step {step} to {folder}", flush=True)
    if args.push_to_hub:
        from facehub.hub import push_to_hub

        print(push_to_hub(folder, args.push_to_hub))


def run(model, disc, opt_g, opt_d, modules, optimisers, args, step: int) -> int:
    data = EditingPairs(build_editing_cache("celebamask_hair_train", args.resolution), paired_p=0.5, seed=step)
    val = EditingPairs(build_editing_cache("celebamask_hair_val", args.resolution), paired_p=0.0, seed=1)
    fixed = collate([val[i] for i in range(0, 48, 6)])
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, collate_fn=collate, drop_last=True)
    critic = load_parser_critic(args.parser)
    deadline = time.time() + args.minutes * 60
    log_path = args.out / "log.csv"
    new_log = not log_path.is_file() or not args.resume
    with open(log_path, "w" if new_log else "a", newline="") as handle:
        writer = None
        bar = tqdm(total=args.steps, initial=step, desc="editor", mininterval=10)
        while step < args.steps and time.time() < deadline:
            for batch in loader:
                logs = train_step(model, disc, opt_g, opt_d, batch, critic, args, step)
                step += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=["step", "time", *logs.keys(), "parse"], extrasaction="ignore")
                    if new_log:
                        writer.writeheader()
                writer.writerow({"step": step, "time": round(time.time(), 1), **logs})
                if step % args.sample_every == 0:
                    sample_grid(model, fixed, args.out / "samples" / f"step_{step:06d}.png")
                if step % args.save_every == 0:
                    save_state(args.out, step, modules, optimisers)
                    handle.flush()
                if step >= args.steps or time.time() >= deadline:
                    break
        bar.close()
    save_state(args.out, step, modules, optimisers)
    sample_grid(model, fixed, args.out / "samples" / f"step_{step:06d}.png")
    return step


if __name__ == "__main__":
    main()
