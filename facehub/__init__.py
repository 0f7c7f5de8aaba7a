"""FaceHub: face parsing, landmarks, 3D reconstruction and component editing.

```python
import facehub
parser = facehub.load("bisenet")
result = parser(Image.open("group.jpg"))
facehub.list_models("landmarks")            # [CheckpointSpec(name="pipnet", ...), ...], the default first
```
No model is loaded at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from facehub.errors import CheckpointError, FaceHubError, ImageError, NoFaceError
from facehub.image import load_image
from facehub.registry import (
    REGISTRY,
    CheckpointSpec,
    get_spec,
    list_models,
    predictor_class,
)

if TYPE_CHECKING:
    from facehub.detection.blazeface import BlazeFaceDetector
    from facehub.detection.cascade import CascadeDetector
    from facehub.detection.detector import FaceDetector
    from facehub.editing.predictor import PortraitEditor
    from facehub.landmarks.predictor import LandmarkPredictor
    from facehub.parsing.predictor import FaceParser
    from facehub.reconstruction.predictor import FaceReconstructor

__all__ = ["load", "list_models", "load_image", "CheckpointSpec", "FaceHubError", "CheckpointError", "ImageError",
           "NoFaceError", "REGISTRY"]
__version__ = "0.2.0"


@overload
def load(name: Literal["mtcnn"], device: str | None = None, **kwargs) -> FaceDetector: ...
@overload
def load(name: Literal["blazeface", "blazeface-short"], device: str | None = None, **kwargs) -> BlazeFaceDetector: ...
@overload
def load(name: Literal["face-detector"], device: str | None = None, **kwargs) -> CascadeDetector: ...
@overload
def load(name: Literal["bisenet", "face-transformer"], device: str | None = None, **kwargs) -> FaceParser: ...
@overload
def load(name: Literal["pipnet", "hourglass"], device: str | None = None, **kwargs) -> LandmarkPredictor: ...
@overload
def load(name: Literal["prnet"], device: str | None = None, **kwargs) -> FaceReconstructor: ...
@overload
def load(name: Literal["portrait-editor"], device: str | None = None, **kwargs) -> PortraitEditor: ...
@overload
def load(name: str, device: str | None = None, **kwargs): ...


def load(name, device=None, **kwargs):
    """Load the predictor of checkpoint ``name`` (weights/<name>/ first, then the Hub).

    Returns ``predictor(image, faces=None) -> Result`` for the checkpoint's task (see ``list_models``).
    """
    from facehub.hub import resolve_checkpoint

    spec = get_spec(name)
    resolve_checkpoint(name)  # a missing checkpoint fails here with the fix, before any import
    return predictor_class(spec).from_pretrained(name, device=device, **kwargs)
