"""Upload a shipped checkpoint folder to the Hugging Face Hub.

    python scripts/push_to_hub.py bisenet [--repo facehub/bisenet] [--token hf_...]

Needs a token with write access (``hf auth login`` or ``--token``). The training
scripts do the same for a fresh run with ``--push-to-hub REPO``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.hub import push_to_hub, weights_root  # noqa: E402
from facehub.registry import get_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="checkpoint name (a folder under weights/)")
    parser.add_argument("--repo", default=None, help="Hub repo id (default: the registry's)")
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    spec = get_spec(args.name)
    folder = weights_root() / spec.name
    print(push_to_hub(folder, args.repo or spec.repo_id, token=args.token))


if __name__ == "__main__":
    main()
