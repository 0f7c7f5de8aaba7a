"""The 68-point landmark recipe (PIPNet or stacked Hourglass) on ytf68-style data, for the engine.

``scripts/train_landmarks.py`` is its CLI. ``data`` names one or more labelled folders (comma-separated,
relative to ``data_root()`` unless they exist as given, e.g. ``300w68/helen_train,300w68/afw,ytf68``), each
read by ``read_labelled_folder``, split by person on its own, and validated on its own (``nme_<folder>``,
``nme_noisy_<folder>``); ``nme_noisy`` is the mean over the folders. Validation is on held-out people (``split_by_person``),
on crops from the ground truth's five points, clean and jittered like a detector (the jittered
NME picks ``best/``). The schedule (:func:`landmark_schedule`) runs over
``max(step / steps, time / minutes)``. ``<out>/``: ``log.csv``, ``last.pt`` (every 100 steps and at
each validation), ``best/`` (fp32, the EMA weights when ``ema`` > 0) and ``best_info.json``, which
:func:`export_checkpoint` turns into a shipped fp16 folder with its model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from facehub.geometry.align import CropSpec, alignment_matrix, transform_points
from facehub.geometry.five_points import five_points_from_68
from facehub.registry import build_model
from facehub.train import engine
from facehub.train.data import data_root
from facehub.train.data.landmark_files import read_labelled_folder
from facehub.train.data.teacher import teacher_landmark_samples
from facehub.train.data.ytf68 import LandmarkSample, split_by_person
from facehub.train.distributed import is_main_process
from facehub.train.eval.metrics import landmark_summary, nme
from facehub.train.landmarks.augment import LandmarkAugment, make_crop
from facehub.train.schedule import Schedule

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def landmark_schedule(steps: int) -> Schedule:
    """Linear warm-up over ``min(300, steps // 10)`` steps (within the first 10% of progress), then a
    cosine from 1 to 0.02 over the whole of progress."""
    return Schedule(warmup=0.1, warmup_steps=min(300, steps // 10), end=0.02, cosine_from_warmup=False)


@dataclass
class LandmarkConfig:
    """One run; the fields are ``scripts/train_landmarks.py``'s flags (``None``: the documented default)."""

    family: str = "pipnet"
    data: str = ""  # comma-separated labelled folders (default: ytf68), relative to data_root() unless they exist
    out: Path | None = None  # run folder (default: runs/<family>)
    steps: int = 3000
    minutes: float | None = None  # wall-clock budget: progress = max(step / steps, time / budget)
    batch_size: int = 32  # per process; under torchrun the effective batch is N x batch_size
    lr: float = 2e-3
    weight_decay: float = 1e-4
    input_size: int = 128
    zoom: float = 0.68
    shift_y: float = -0.1
    width: int | None = None  # pipnet: ResNet stem width, 32; hourglass: 64
    net_stride: int = 16
    num_nb: int = 10
    stacks: int = 2
    heatmap_size: int = 32
    val_fraction: float = 0.12
    val_every: int = 250
    threads: int = 1
    seed: int = 0
    init_from: Path | None = None  # a run's last.pt or a save_pretrained folder; optimiser and step start fresh
    teacher_data: str = ""  # comma-separated teacher caches: MediaPipe points mapped to 68, extra training faces
    teacher_fraction: float = 0.25
    teacher_weight: float = 0.3
    flip_prob: float = 0.5
    flip_folders: str = ""  # comma-separated --data folders whose faces are mirrored (at flip_prob); "" = every folder
    ema: float = 0.0
    argv: list[str] = field(default_factory=list)  # the command line, quoted in the model card

    @property
    def run_folder(self) -> Path:
        return self.out or Path("runs") / self.family


def model_args(config: LandmarkConfig) -> dict:
    width = config.width or (32 if config.family == "pipnet" else 64)
    if config.family == "pipnet":
        return {"num_points": 68, "num_nb": config.num_nb, "depth": 18, "width": width,
                "net_stride": config.net_stride, "input_size": config.input_size}
    return {"num_points": 68, "num_stacks": config.stacks, "width": width,
            "input_size": config.input_size, "heatmap_size": config.heatmap_size}


def make_config(config: LandmarkConfig) -> dict:
    """The ``config.json`` of an exported checkpoint."""
    return {"family": config.family, "task": "landmarks", "model_args": model_args(config),
            "labels": [f"p{i}" for i in range(68)], "num_points": 68, "point_set": "ibug68",
            "input_size": config.input_size, "crop": {"zoom": config.zoom, "shift_y": config.shift_y},
            "mean": MEAN, "std": STD}


def load_images(samples: list[LandmarkSample]) -> list[np.ndarray]:
    """Each sample's image, (H, W, 3) uint8 RGB."""
    images = []
    for s in samples:
        image = cv2.imread(str(s.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"Cannot read {s.path}")
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return images


def to_tensor(crops: list[np.ndarray]) -> torch.Tensor:
    """List of (s, s, 3) uint8 -> (B, 3, s, s) normalised float."""
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def crop_batch(images: list[np.ndarray], samples: list[LandmarkSample], indices, spec: CropSpec,
               augment: LandmarkAugment, rng: np.random.Generator,
               mirrorable: list[bool] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops (B, 3, s, s) normalised and their points (B, 68, 2) in crop pixels; ``mirrorable`` (one per sample):
    which samples ``augment`` may mirror (None = all)."""
    unmirrored = replace(augment, flip_prob=0.0)
    crops, points = [], []
    for i in indices:
        chosen = augment if mirrorable is None or mirrorable[i] else unmirrored
        crop, pts, _ = make_crop(images[i], samples[i].points, spec, chosen, rng)
        crops.append(crop)
        points.append(pts)
    return to_tensor(crops), torch.from_numpy(np.stack(points)).float()


def mean_face(samples: list[LandmarkSample], spec: CropSpec) -> np.ndarray:
    """(68, 2) mean aligned shape in crop pixels."""
    aligned = [transform_points(s.points, alignment_matrix(five_points_from_68(s.points), spec)) for s in samples]
    return np.mean(aligned, 0)


@torch.no_grad()
def evaluate(model, images, samples, spec, noise: float = 0.0, seed: int = 123) -> dict[str, float]:
    """NME on crops from the ground truth's 5 points (plus detector-like ``noise``)."""
    model.eval()
    device = next(model.parameters()).device
    augment = LandmarkAugment.none()
    augment.point_noise = noise
    rng = np.random.default_rng(seed)
    errors = []
    for start in range(0, len(samples), 64):
        x, pts = crop_batch(images, samples, range(start, min(start + 64, len(samples))), spec, augment, rng)
        pred = model.decode_outputs(model(x.to(device))).cpu()
        errors.append(nme(pred.numpy(), pts.numpy()))
    model.train()
    return landmark_summary(np.concatenate(errors))


def data_folders(data: str) -> dict[str, Path]:
    """``"300w68/afw,ytf68"`` -> {name: folder}; names are the paths as given, folders under ``data_root()``
    unless the path exists as given. Empty: ytf68."""
    folders = {}
    for name in (data or "ytf68").split(","):
        name = name.strip().rstrip("/")
        if name:
            folders[name] = Path(name) if Path(name).exists() else data_root() / name
    return folders


def validation_key(name: str) -> str:
    """A folder name as a metrics key: ``300w68/helen_train`` -> ``helen_train``."""
    return Path(name).name


class LandmarkRecipe(engine.Recipe):
    """Random augmented crops of the folders' training people (plus teacher-labelled faces, down-weighted)."""

    def __init__(self, config: LandmarkConfig) -> None:
        self.config = config
        self.train_s, self.val_sets, self.mirrorable = [], {}, []
        flip_folders = {validation_key(n) for n in config.flip_folders.split(",") if n.strip()}
        folders = data_folders(config.data)
        unknown = flip_folders - {validation_key(n) for n in folders}
        if unknown:
            raise ValueError(f"--flip-folders names folders not in --data: {sorted(unknown)}")
        for name, folder in folders.items():
            train_s, val_s = split_by_person(read_labelled_folder(folder), config.val_fraction, config.seed)
            self.train_s += train_s
            self.mirrorable += [not flip_folders or validation_key(name) in flip_folders] * len(train_s)
            self.val_sets[validation_key(name)] = val_s
        self.val_s = [s for samples in self.val_sets.values() for s in samples]
        self.people = len({s.person for s in self.val_s})
        if is_main_process():
            sizes = ", ".join(f"{k} {len(v)}" for k, v in self.val_sets.items())
            print(f"{len(self.train_s)} train / {len(self.val_s)} val faces ({sizes}); {self.people} val people", flush=True)
        self.train_i = load_images(self.train_s)
        self.val_images = {k: load_images(v) for k, v in self.val_sets.items()}
        self.spec = CropSpec(config.input_size, config.zoom, config.shift_y)
        self.teacher_s = teacher_landmark_samples(config.teacher_data.split(",")) if config.teacher_data else []
        self.teacher_i = load_images(self.teacher_s)
        self.n_teacher = round(config.batch_size * config.teacher_fraction) if self.teacher_s else 0
        if self.teacher_s and is_main_process():
            print(f"{len(self.teacher_s)} teacher-labelled faces, {self.n_teacher} per batch at loss weight "
                  f"{config.teacher_weight}", flush=True)
        self.processes = 1

    def models(self) -> dict[str, torch.nn.Module]:
        model = build_model(self.config.family, model_args(self.config))
        if hasattr(model, "set_neighbours"):
            model.set_neighbours(mean_face(self.train_s, self.spec))
        return {"model": model}

    def batches(self, shard: engine.Shard, start_step: int):
        """Endless (crops, points, teacher crops | None, teacher points | None); sampled with replacement
        from a generator seeded by ``seed + start_step`` (and the rank, under DDP)."""
        self.processes = shard.world
        seed = self.config.seed + start_step
        rng = np.random.default_rng(seed if shard.rank == 0 else [seed, shard.rank])
        augment = LandmarkAugment(flip_prob=self.config.flip_prob)
        n_real = self.config.batch_size - self.n_teacher
        while True:
            x, pts = crop_batch(self.train_i, self.train_s, rng.integers(0, len(self.train_s), n_real), self.spec, augment, rng,
                                self.mirrorable)
            if not self.n_teacher:
                yield x, pts, None, None
                continue
            indices = rng.integers(0, len(self.teacher_s), self.n_teacher)
            teacher_mirrorable = None if not self.config.flip_folders else [False] * len(self.teacher_s)
            yield (x, pts, *crop_batch(self.teacher_i, self.teacher_s, indices, self.spec, augment, rng, teacher_mirrorable))

    def loss(self, model: torch.nn.Module, batch, ctx: engine.StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        x, pts, x_teacher, pts_teacher = batch
        net = engine.unwrap(model)
        if x_teacher is None:
            return net.loss(model(x), pts)["total"], {}
        outputs = model(torch.cat([x, x_teacher]))
        n = len(x)
        terms = net.loss(tuple(o[:n] for o in outputs), pts)
        extra = net.loss(tuple(o[n:] for o in outputs), pts_teacher)
        return terms["total"] + self.config.teacher_weight * extra["total"], {}

    def validate(self, model: torch.nn.Module, final: bool) -> dict[str, float]:
        """Per folder: clean and detector-jittered NME; overall: the first folder's summary (or all folders
        pooled when several) and ``nme_noisy``, the mean of the folders' jittered NMEs (picks ``best/``)."""
        scores, noisy_means = {}, []
        for key, samples in self.val_sets.items():
            clean = evaluate(model, self.val_images[key], samples, self.spec)
            noisy = evaluate(model, self.val_images[key], samples, self.spec, noise=0.05)
            scores.update({f"nme_{key}": clean["nme"], f"nme_noisy_{key}": noisy["nme"]})
            noisy_means.append(noisy["nme"])
            if len(self.val_sets) == 1:
                scores.update(clean)
        if len(self.val_sets) > 1:
            pooled = evaluate(model, [i for k in self.val_sets for i in self.val_images[k]], self.val_s, self.spec)
            scores.update(pooled)
        scores["nme_noisy"] = float(np.mean(noisy_means))
        return scores

    def export_config(self) -> dict:
        return make_config(self.config)

    def on_best(self, scores: dict[str, float], step: int, minutes: float) -> None:
        """``best_info.json``: the scores and what the model card says about the run."""
        c = self.config
        info = {**scores, "step": step, "data": c.data, "batch_size": c.batch_size, "processes": self.processes, "wall_min": minutes,
                "people": self.people, "argv": c.argv, "flip_prob": c.flip_prob, "flip_folders": c.flip_folders, "threads": c.threads,
                "init_from": str(c.init_from or ""), "teacher_data": c.teacher_data, "teacher_faces": len(self.teacher_s),
                "teacher_fraction": c.teacher_fraction, "teacher_weight": c.teacher_weight, "ema": c.ema}
        (c.run_folder / "best_info.json").write_text(json.dumps(info, indent=2))


def engine_config(config: LandmarkConfig, resume: bool = False) -> engine.EngineConfig:
    return engine.EngineConfig(
        out=config.run_folder, lr=config.lr, weight_decay=config.weight_decay, steps=config.steps,
        minutes=config.minutes or 0.0, schedule=landmark_schedule(config.steps), ema=config.ema,
        val_every=config.val_every, checkpoint_every=100, log_every=50, smoothing=0.98, monitor="nme_noisy", mode="min",
        report=("nme", "fr", "auc", "nme_noisy"), resume=resume, init_from=str(config.init_from or ""),
        seed=config.seed, threads=config.threads, desc=config.family,
    )


def train(config: LandmarkConfig, resume: bool = False) -> engine.TrainState:
    """Train into ``config.run_folder``."""
    return engine.train(LandmarkRecipe(config), engine_config(config, resume))
