"""The FaceHub command line (see DESIGN.md "CLI"; keep it stable).

    python -m facehub detect IMAGES... --out FILE.json
    python -m facehub parse IMAGES... --out DIR [--model NAME]
    python -m facehub landmarks IMAGES... --out FILE.json [--model NAME]
    python -m facehub reconstruct IMAGES... --out DIR [--model NAME]
    python -m facehub edit --source S --target T --parts hair,eyes,mouth --out OUT.png [--method gan|blend]
    python -m facehub bench [--repeats N]

A file that cannot be read is reported on stderr and skipped; the exit code is
then 1. A missing model or other fatal problem exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from facehub.errors import FaceHubError, NoFaceError
from facehub.registry import DEFAULTS


def _each_image(paths: list[str], handle: Callable[[Path], None]) -> int:
    """Run ``handle`` on every path; report and skip the ones that fail. Returns the failure count."""
    failures = 0
    for name in paths:
        path = Path(name)
        try:
            handle(path)
        except FaceHubError as error:
            failures += 1
            print(f"facehub: {path}: {error}", file=sys.stderr)
    return failures


def _faces_json(paths: list[str], predict: Callable, out: Path) -> int:
    from facehub.image import load_image

    results: dict[str, list] = {}

    def handle(path: Path) -> None:
        results[path.name] = predict(load_image(path)).to_json()

    failures = _each_image(paths, handle)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out} ({sum(len(v) for v in results.values())} faces in {len(results)} images)")
    return failures


def cmd_detect(args: argparse.Namespace) -> int:
    from facehub.detection.detector import FaceDetector

    return _faces_json(args.images, FaceDetector.from_pretrained(device=args.device), Path(args.out))


def cmd_landmarks(args: argparse.Namespace) -> int:
    from facehub import load

    return _faces_json(args.images, load(args.model or DEFAULTS["landmarks"], device=args.device), Path(args.out))


def cmd_parse(args: argparse.Namespace) -> int:
    from PIL import Image

    from facehub import load
    from facehub.image import load_image

    name = args.model or DEFAULTS["parsing"]
    parser = load(name, device=args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def handle(path: Path) -> None:
        result = parser(load_image(path))
        Image.fromarray(result.label_map).save(out / f"{path.stem}.png")

    failures = _each_image(args.images, handle)
    (out / "labels.json").write_text(json.dumps({"model": name, "labels": list(parser.labels)}, indent=2))
    print(f"wrote {len(args.images) - failures} class-index masks and labels.json to {out}")
    return failures


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from facehub import load
    from facehub.image import load_image

    reconstructor = load(args.model or DEFAULTS["reconstruction"], device=args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def handle(path: Path) -> None:
        result = reconstructor(load_image(path))
        (out / f"{path.stem}.json").write_text(json.dumps(result.to_json(), indent=2))
        result.save_obj(out / path.stem)
        result.save_glb(out / f"{path.stem}.glb")

    failures = _each_image(args.images, handle)
    print(f"wrote meshes and JSON for {len(args.images) - failures} images to {out}")
    return failures


def cmd_edit(args: argparse.Namespace) -> int:
    from facehub import load
    from facehub.image import load_image

    editor = load(args.model or DEFAULTS["editing"], device=args.device)
    parts = tuple(part.strip() for part in args.parts.split(",") if part.strip())
    try:
        result = editor(load_image(args.source), load_image(args.target), parts=parts, method=args.method)
    except ValueError as error:  # unknown part or method names
        raise FaceHubError(str(error)) from None
    if not result.faces:
        raise NoFaceError("No face found in the source or the target photo; nothing was edited or written. "
                          "Use photos with a clearly visible face.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image_pil().save(out)
    print(f"wrote {out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from facehub.bench import run_bench

    print(run_bench(repeats=args.repeats, stages=args.stages, device=args.device))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facehub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda[:N]")
    commands = parser.add_subparsers(dest="command", required=True)

    def images_command(name: str, handler: Callable, out_help: str, model: bool = True) -> None:
        command = commands.add_parser(name, help=handler.__doc__ or name)
        command.add_argument("images", nargs="+")
        command.add_argument("--out", required=True, help=out_help)
        if model:
            command.add_argument("--model", default=None)
        command.set_defaults(handler=handler)

    images_command("detect", cmd_detect, "JSON file", model=False)
    images_command("parse", cmd_parse, "output folder")
    images_command("landmarks", cmd_landmarks, "JSON file")
    images_command("reconstruct", cmd_reconstruct, "output folder")
    edit = commands.add_parser("edit", help="move components from a source face onto a target")
    edit.add_argument("--source", required=True)
    edit.add_argument("--target", required=True)
    edit.add_argument("--parts", default="hair")
    edit.add_argument("--out", required=True)
    edit.add_argument("--method", default=None, choices=["gan", "blend"])
    edit.add_argument("--model", default=None)
    edit.set_defaults(handler=cmd_edit)
    bench = commands.add_parser("bench", help="ms per image per stage and peak memory")
    bench.add_argument("--repeats", type=int, default=10)
    bench.add_argument("--stages", nargs="*", default=None)
    bench.set_defaults(handler=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return 1 if args.handler(args) else 0
    except FaceHubError as error:
        print(f"facehub: {error}", file=sys.stderr)
        return 2


