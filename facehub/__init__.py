"""FaceHub: face parsing, landmarks, 3D reconstruction and component editing.

```python
import facehub
parser = facehub.load("bisenet")
result = parser(Image.open("group.jpg"))
```
No model is loaded at import time.
"""

from __future__ import annotations

import importlib

from .errors import CheckpointError, FaceHubError, ImageError, NoFaceError
from .image import load_image
from .registry import REGISTRY, get_spec

__all__ = ["load", "load_image", "FaceHubError", "CheckpointError", "ImageError", "NoFaceError", "REGISTRY"]
__version__ = "0.1.0"


def load(name: str, device: str | None = None, **kwargs):
    """Load the predictor of checkpoint ``name`` (weights/<name>/ first, then the Hub).

    Returns a callable ``predictor(image) -> Result`` for the checkpoint's task.
    """
    from .hub import resolve_checkpoint
    from .tasks import TASK_PREDICTORS

    spec = get_spec(name)
    resolve_checkpoint(name)  # a missing checkpoint fails here with the fix, before any import
    module_name, class_name = TASK_PREDICTORS[spec.task].split(":")
    predictor_class = getattr(importlib.import_module(module_name), class_name)
    return predictor_class.from_pretrained(name, device=device, **kwargs)
