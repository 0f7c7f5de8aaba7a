"""The moved component's own fine detail, for an edit rendered at a lower resolution than the photo.

The mask-guided GAN renders a face in an ``input_size`` crop (128 px); pasted
onto a photo where the face spans several hundred pixels, that rendering has
no detail finer than one crop pixel. ``source_detail`` supplies that band from
the source photo itself: the source is moved onto the target as the edit's
layout moved it (the five-point similarity; each inner component refitted onto
its place in the layout, as ``blend`` does), and only its high-pass (the image
minus a Gaussian blur of about three quarters of a rendering pixel) is kept, inside the pixels where
the layout has the moved component *and* the moved source has it. Colour,
shading and shape stay the GAN's; the strands, lashes and lip lines are the
source's, which is what the edit asked to move.

```python
detail, weight = source_detail(src, src_labels, matrix, layout, ("hair",), sigma=2.0, window=(rows, cols))
out[:, rows, cols] += weight * detail
```
"""

from __future__ import annotations

import numpy as np
import torch

from facehub.editing.blend import fit_to_component, in_classes, into_window, warp_with_labels
from facehub.editing.blend_ops import erode, gaussian_blur
from facehub.editing.masks import COMPONENT_GROUPS, HAIR, PART_CLASSES


def source_detail(
    source: torch.Tensor,
    source_labels: torch.Tensor,
    matrix: np.ndarray,
    layout: torch.Tensor,
    parts: tuple[str, ...],
    sigma: float,
    window: tuple[slice, slice],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source's high-pass detail where the edit's layout puts the moved parts, inside ``window`` of the photo.

    ``source``: (3, h, w) float in [0, 1]; ``source_labels``: (h, w) long EDIT_LABELS; ``matrix``: (2, 3) source px
    -> target photo px (five-point similarity); ``layout``: (H, W) long EDIT_LABELS the edit renders in the target
    photo; ``parts``: canonical part names (``masks.parse_parts``); ``sigma``: the blur (photo px) whose residual is
    kept, about one rendering pixel (the editor uses 0.75); ``window``: (row slice, column slice) of the photo to work in.
    Returns ``detail`` (3, h', w') float, zero-mean band-pass values (about -0.3..0.3), and ``weight`` (h', w') in
    [0, 1], both of the window's size: add ``weight * detail`` to the rendering there.
    """
    rows, cols = window
    size = (rows.stop - rows.start, cols.stop - cols.start)
    lay = layout[rows, cols]
    base = into_window(matrix, cols.start, rows.start)
    detail = torch.zeros((3, *size))
    where = torch.zeros(size, dtype=torch.bool)
    warped_img, warped_labels, _ = warp_with_labels(source, source_labels, base, size)

    def put(img: torch.Tensor, region: torch.Tensor) -> None:
        region = erode(region, 1)
        if bool(region.any()):
            band = img - gaussian_blur(img, sigma)
            detail[:, region] = band[:, region]
            where[region] = True

    for part in parts:
        if part == "hair":
            put(warped_img, (warped_labels == HAIR) & (lay == HAIR))
        elif part == "face":
            face = PART_CLASSES["face"]
            put(warped_img, in_classes(warped_labels, face) & in_classes(lay, face))
        else:
            for group in COMPONENT_GROUPS[part]:
                wanted, moved = in_classes(lay, group), in_classes(warped_labels, group)
                if int(wanted.sum()) < 4 or int(moved.sum()) < 4:
                    continue
                img, labels, _ = warp_with_labels(source, source_labels, fit_to_component(base, moved, wanted), size)
                put(img, in_classes(labels, group) & wanted)
    weight = gaussian_blur(where.float(), 1.0) * where
    return detail, weight
