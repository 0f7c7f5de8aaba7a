"""The FaceHub command line (see DESIGN.md "CLI"; keep it stable). ``facehub`` and ``python -m facehub`` are the same.

    facehub detect IMAGES... --out FILE.json
    facehub parse IMAGES... --out DIR [--model NAME]
    facehub landmarks IMAGES... --out FILE.json [--model NAME]
    facehub reconstruct IMAGES... --out DIR [--model NAME]
    facehub edit --source S --target T --parts hair,eyes,mouth --out OUT.png [--method gan|blend] [--target-face N]
    facehub bench [--repeats N]

IMAGES are files, folders (searched recursively for .jpg .jpeg .png .bmp .gif .tif .tiff .webp) or quoted
globs ("photos/**/*.jpg"). The files written are facehub/export.py's layout (the same as ``result.save``).
A file that cannot be read is reported on stderr and skipped; the exit code is then 1. A folder or glob
that matches no image, a missing model or another fatal problem exits with code 2.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from facehub import export
from facehub.errors import FaceHubError, NoFaceError
from facehub.registry import DEFAULTS, names_for_task

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
PROGRESS_MIN_FILES = 4  # fewer photos than this: no progress bar


def _images_in(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden files and folders skipped), sorted by path."""
    return sorted(
        path for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _glob_images(pattern: str) -> list[Path]:
    """Image files matched by ``pattern`` (``**`` recursive); matched folders are searched like folders."""
    found: list[Path] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        path = Path(match)
        if path.is_dir():
            found += _images_in(path)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
    return found


def expand_images(arguments: list[str]) -> list[Path]:
    """The photos named by ``arguments``: files as given, folders searched, quoted globs expanded; no repeats.

    A file that does not exist is kept (reading it reports the problem); a folder or glob with no image
    raises ``FaceHubError``.
    """
    photos: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            matches, what = _images_in(path), "folder"
        elif not path.exists() and any(char in argument for char in "*?["):
            matches, what = _glob_images(argument), "pattern"
        else:
            photos.append(path)
            continue
        if not matches:
            raise FaceHubError(f"{argument}: no images found in this {what} (looked for {' '.join(IMAGE_SUFFIXES)}, "
                               "recursively).")
        photos += matches
    unique: dict[Path, Path] = {}
    for photo in photos:
        unique.setdefault(photo.resolve(), photo)
    return list(unique.values())


def _check_output_names(photos: list[Path], name: Callable[[Path], str]) -> None:
    """Two photos that would be written under one name (``a/x.jpg`` and ``b/x.jpg``) are an error, not an overwrite."""
    first: dict[str, Path] = {}
    for photo in photos:
        other = first.setdefault(name(photo), photo)
        if other != photo:
            raise FaceHubError(f"{other} and {photo} would both be written as {name(photo)!r}: outputs are named by "
                               "file name, so rename one or run them separately.")


class Progress:
    """``label  12/40 [######......]  30%  0.8 s/image, ~22 s left`` on stderr for ``total`` >= PROGRESS_MIN_FILES.

    Redrawn in place on a terminal; elsewhere (logs, pipes) one line per tenth of the work.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.label, self.width, self.done = total, label, width, 0
        self.stream = stream or sys.stderr
        self.enabled = total >= PROGRESS_MIN_FILES
        self.terminal = self.enabled and self.stream.isatty()
        self.start = time.perf_counter()
        self._tenths = -1

    def line(self) -> str:
        filled = self.width * self.done // max(self.total, 1)
        seconds = (time.perf_counter() - self.start) / max(self.done, 1)
        left = seconds * (self.total - self.done)
        return (f"{self.label} {self.done:>{len(str(self.total))}}/{self.total} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{100 * self.done // max(self.total, 1):3d}%  {seconds:.1f} s/image, ~{left:.0f} s left")

    def step(self) -> None:
        """One more photo done."""
        self.done += 1
        if not self.enabled:
            return
        if self.terminal:
            self.stream.write("\r" + self.line() + ("\n" if self.done == self.total else ""))
        elif 10 * self.done // self.total > self._tenths:
            self._tenths = 10 * self.done // self.total
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """Print ``text`` on its own line without breaking the bar."""
        if self.terminal and 0 < self.done < self.total:
            self.stream.write("\r\x1b[K")
        print(text, file=self.stream)


def _each_image(photos: list[Path], handle: Callable[[Path], None], label: str) -> int:
    """Run ``handle`` on every photo with a progress bar; report and skip the ones that fail. Returns the failure count."""
    progress = Progress(len(photos), label)
    failures = 0
    for path in photos:
        try:
            handle(path)
        except FaceHubError as error:
            failures += 1
            progress.message(f"facehub: {path}: {error}")
        progress.step()
    return failures


def _faces_json(photos: list[Path], predict: Callable, out: Path, label: str) -> int:
    from facehub.image import load_image

    results: dict[str, list] = {}

    def handle(path: Path) -> None:
        results[path.name] = predict(load_image(path)).to_json()

    failures = _each_image(photos, handle, label)
    export.write_faces_json(results, out)
    print(f"wrote {out} ({sum(len(v) for v in results.values())} faces in {len(results)} images)")
    return failures


def _photos(args: argparse.Namespace, name: Callable[[Path], str]) -> list[Path]:
    photos = expand_images(args.images)
    _check_output_names(photos, name)
    return photos


def cmd_detect(args: argparse.Namespace) -> int:
    from facehub.detection import load_detector

    photos = _photos(args, lambda p: p.name)
    return _faces_json(photos, load_detector(args.detector, device=args.device), Path(args.out), "detect")


def cmd_landmarks(args: argparse.Namespace) -> int:
    from facehub import load

    photos = _photos(args, lambda p: p.name)
    return _faces_json(photos, load(args.model or DEFAULTS["landmarks"], device=args.device, detector=args.detector), Path(args.out), "landmarks")


def cmd_parse(args: argparse.Namespace) -> int:
    from facehub import load
    from facehub.image import load_image

    photos = _photos(args, lambda p: p.stem)
    name = args.model or DEFAULTS["parsing"]
    parser = load(name, device=args.device, detector=args.detector)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = _each_image(photos, lambda path: parser(load_image(path)).save(out, path.stem), "parse")
    export.write_labels(out, name, parser.labels)  # also when no photo could be read
    print(f"wrote {len(photos) - failures} class-index masks and labels.json to {out}")
    return failures


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from facehub import load
    from facehub.image import load_image

    photos = _photos(args, lambda p: p.stem)
    reconstructor = load(args.model or DEFAULTS["reconstruction"], device=args.device, detector=args.detector)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = _each_image(photos, lambda path: reconstructor(load_image(path)).save(out, path.stem), "reconstruct")
    print(f"wrote meshes and JSON for {len(photos) - failures} images to {out}")
    return failures


def cmd_edit(args: argparse.Namespace) -> int:
    from facehub import load
    from facehub.image import load_image

    editor = load(args.model or DEFAULTS["editing"], device=args.device, detector=args.detector)
    parts = tuple(part.strip() for part in args.parts.split(",") if part.strip())
    try:
        result = editor(load_image(args.source), load_image(args.target), parts=parts, method=args.method,
                        source_face=args.source_face, target_face=args.target_face)
    except ValueError as error:  # unknown part or method names
        raise FaceHubError(str(error)) from None
    if not result.faces:
        raise NoFaceError("No face found in the source or the target photo; nothing was edited or written. "
                          "Use photos with a clearly visible face.")
    result.raise_if_refused()  # a chosen component missing in one photo: exit 2 with why, no file written
    out = export.write_image(result.image, args.out)  # the suffix picks the format, as result.save's .png
    print(f"wrote {out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from facehub.bench import run_bench

    print(run_bench(repeats=args.repeats, stages=args.stages, device=args.device))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facehub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda[:N]")
    parser.add_argument("--detector", default=None,
                        help=f"face detector: {', '.join(names_for_task('detection'))} (default {DEFAULTS['detection']})")
    commands = parser.add_subparsers(dest="command", required=True)

    def images_command(name: str, handler: Callable, help: str, out_help: str, model: bool = True) -> None:
        command = commands.add_parser(name, help=help)
        command.add_argument("images", nargs="+", metavar="IMAGES", help="files, folders (recursive) or quoted globs")
        command.add_argument("--out", required=True, help=out_help)
        if model:
            command.add_argument("--model", default=None)
        command.set_defaults(handler=handler)

    images_command("detect", cmd_detect, "boxes, scores and five points of every face", "JSON file", model=False)
    images_command("parse", cmd_parse, "class-index mask of every photo", "output folder")
    images_command("landmarks", cmd_landmarks, "68 (or the model's) points of every face", "JSON file")
    images_command("reconstruct", cmd_reconstruct, "3D landmarks, pose and a mesh of every face", "output folder")
    edit = commands.add_parser("edit", help="move components from a source face onto a target")
    edit.add_argument("--source", required=True)
    edit.add_argument("--target", required=True)
    edit.add_argument("--parts", default="hair")
    edit.add_argument("--out", required=True)
    edit.add_argument("--method", default=None, choices=["gan", "blend"])
    edit.add_argument("--source-face", type=int, default=1, metavar="N",
                      help="which face of the source photo, by size: 1 = the largest (default), 2 = the next, ...")
    edit.add_argument("--target-face", type=int, default=1, metavar="N",
                      help="which face of the target photo is edited, by size: 1 = the largest (default), ...")
    edit.add_argument("--model", default=None)
    edit.set_defaults(handler=cmd_edit)
    bench = commands.add_parser("bench", help="ms per image per stage and peak memory")
    bench.add_argument("--repeats", type=int, default=20)
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
