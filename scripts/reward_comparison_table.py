"""Markdown tables of a ``train_parsing.py --compare-reward`` run, for the face transformer's card.

    python scripts/reward_comparison_table.py runs/ft19cmp

Reads ``<run>/{ce,reward}/log.csv``: the validation curve (human-label group mean, pseudo-label coarse
mean5, turned faces) at the steps both runs were validated, then the final per-group F1 on the
human-labelled faces and the REINFORCE term's mean sampled reward (per-image F1) over the run.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

RUNS = ("ce", "reward")
CURVE = ("human_mean11", "coarse_mean5", "turned_mean5")


def read_log(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    args = parser.parse_args()
    logs = {name: read_log(args.run / name / "log.csv") for name in RUNS}
    validated = {name: {row["step"]: row for row in rows if row.get("human_mean11")} for name, rows in logs.items()}
    steps = sorted(set(validated["ce"]) & set(validated["reward"]), key=int)
    header = ["step"] + [f"{name} {metric}" for metric in CURVE for name in RUNS]
    print(table(header, [[step] + [f"{float(validated[name][step][metric]):.4f}" for metric in CURVE for name in RUNS]
                         for step in steps]))
    final = {name: validated[name][steps[-1]] for name in RUNS}
    groups = [key for key in final["ce"] if key.startswith("human_") and key != "human_mean11"]
    print()
    print(table(["group (celebamask19/val, aligned crops)"] + list(RUNS),
                [[key.removeprefix("human_")] + [f"{float(final[name][key]):.3f}" for name in RUNS] for key in groups]
                + [["**mean**"] + [f"**{float(final[name]['human_mean11']):.4f}**" for name in RUNS]]))
    rewards = [(int(row["step"]), float(row["reward"])) for row in logs["reward"] if row.get("reward")]
    first = [r for step, r in rewards if step <= 100]
    last = [r for step, r in rewards if step > int(steps[-1]) - 100]
    minutes = {name: max(float(row["minutes"]) for row in logs[name] if row.get("minutes")) for name in RUNS}
    print()
    print(f"Steps {steps[-1]} each; wall minutes: ce {minutes['ce']:.1f}, reward {minutes['reward']:.1f}. "
          f"Mean sampled reward (per-image F1) of the REINFORCE term: first 100 steps "
          f"{sum(first) / max(1, len(first)):.3f}, last 100 {sum(last) / max(1, len(last)):.3f}.")


if __name__ == "__main__":
    main()
