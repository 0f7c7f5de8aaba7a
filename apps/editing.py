"""Component editing tab: move eyes, mouth, face or hair from a source face onto a target."""

from __future__ import annotations

import gradio as gr
import numpy as np

from facehub.errors import FaceHubError

from . import common

TASK = "editing"
PARTS = ["hair", "eyes", "mouth", "face", "nose", "brows"]
METHODS = ["blend", "gan"]


@common.inference
def edit(source: str, target: str, parts: list[str], method: str, source_face: float = 1, target_face: float = 1,
         progress=gr.Progress()):
    """Edit the target's chosen face (numbered by size, 1 = the largest) with the source's chosen face's components;
    return the result's preview (JPEG), both masks, the PNG download, a note and the (before, after) pair for the
    comparison slider."""
    source_image = common.read_image(source, "source photo")
    target_image = common.read_image(target, "target photo")
    name = common.model_choices(TASK)[0]
    if not common.availability(name).ready and method == "gan":
        raise FaceHubError(common.not_trained_note(name, 0))
    if not parts:
        raise FaceHubError("Tick at least one component to move (hair, eyes, mouth, ...).")
    progress(0.2, desc="Parsing both faces")
    numbers = {"source_face": _face_number(source_face), "target_face": _face_number(target_face)}
    result = common.predictor(name)(source_image, target_image, parts=tuple(parts), method=method, **numbers)
    if not result.faces:
        raise FaceHubError("No face found in the source or the target photo, so nothing was edited. Use photos with a clearly visible face.")
    folder, stem = common.output_dir(), f"{common.download_stem(target)}_edited"
    if result.refused:  # a chosen component missing in one photo: the target untouched, the reason shown, no download
        gr.Warning(result.refused)
        preview = common.preview(result.image, folder, f"{stem}_preview")
        return (preview, *masks(result, folder), None, f"**{result.refused}**", (preview, preview))
    out = result.save(folder, stem)[0]
    note = (f"Moved **{', '.join(parts)}** of source face {numbers['source_face']} onto target face "
            f"{numbers['target_face']} (faces numbered by size, 1 = the largest) with the **{method}** method; the rest "
            "of the target photo is untouched.")
    preview = common.preview(result.image, folder, f"{stem}_preview")
    before = common.preview(target_image, folder, f"{stem}_before")
    return preview, *masks(result, folder), str(out), note, (before, preview)


def _face_number(value: float | None) -> int:
    """A face number from the app's number box: a whole number from 1 (an empty box means 1)."""
    if value is None:
        return 1
    if value < 1 or value != int(value):
        raise FaceHubError(f"Face numbers are whole numbers from 1 (the largest face) up; {value:g} is not one.")
    return int(value)


def masks(result, folder) -> tuple[str, str]:
    """The source's and target's colour masks as PNG files (paths) in ``folder``."""
    return (common.preview(result.source_mask_image(), folder, "source_mask", lossless=True),
            common.preview(result.target_mask_image(), folder, "target_mask", lossless=True))


@common.inference
def load_mask(target: str):
    """The target's parsing mask as a colour image, to paint on."""
    image = common.read_image(target, "target photo")
    name = common.model_choices(TASK)[0]
    mask = common.preview(common.predictor(name).target_mask_image(image), common.output_dir(), "target_mask", lossless=True)
    return {"background": mask, "layers": [], "composite": mask}


@common.inference
def edit_with_mask(source: str, target: str, painted: dict, progress=gr.Progress()):
    """Render the target with the user's painted mask (colours snapped to the label palette)."""
    source_image = common.read_image(source, "source photo")
    target_image = common.read_image(target, "target photo")
    if not painted or painted.get("composite") is None:
        raise FaceHubError("Load the target's mask into the editor and paint on it first.")
    name = common.model_choices(TASK)[0]
    editor = common.predictor(name)
    progress(0.3, desc="Rendering the painted mask")
    result = editor.render_painted_mask(source_image, target_image, np.asarray(painted["composite"])[..., :3])
    folder = common.output_dir()
    return (common.preview(result.image_pil(), folder, "painted_edit"),
            common.preview(result.layout_image(), folder, "painted_layout", lossless=True))


def build() -> None:
    with gr.Row():
        source = common.photo_input("Source (components come from the chosen face)", height=320)
        target = common.photo_input("Target (the chosen face is edited)", height=320)
    with gr.Row():
        source_face = gr.Number(1, precision=0, minimum=1, label="Source face (by size: 1 = the largest)")
        target_face = gr.Number(1, precision=0, minimum=1, label="Target face (by size: 1 = the largest)")
    with gr.Row():
        parts = gr.CheckboxGroup(PARTS, value=["hair"], label="Components to move")
        method = gr.Radio(METHODS, value="blend", label="Method (blend: classical compositing; gan: mask-guided editor)")
    run = gr.Button("Edit", variant="primary")
    with gr.Row():
        result = gr.Image(label="Result (preview; the full-resolution PNG is the download)")
        with gr.Column():
            source_mask = gr.Image(label="Source mask", format="png", height=200)
            target_mask = gr.Image(label="Target mask", format="png", height=200)
    note = gr.Markdown()
    compare = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath")
    download = gr.File(label="Download the result")
    with gr.Accordion("Paint the target's mask", open=False):
        gr.Markdown("Load the target's mask, paint regions with the label colours (legend below), then render.")
        gr.HTML(_legend(), label="Label colours", show_label=True, container=True, padding=True)
        painter = gr.ImageEditor(label="Target mask", type="numpy", brush=gr.Brush(colors=_palette_hex(), color_mode="fixed"))
        with gr.Row():
            load = gr.Button("Load target mask")
            render = gr.Button("Render painted mask", variant="primary")
        painted_result = gr.Image(label="Rendered from the painted mask", format="jpeg")
    pairs = [[a, b] for a, b in zip(common.EXAMPLES, common.EXAMPLES[1:] + common.EXAMPLES[:1])]
    gr.Examples(pairs, inputs=[source, target], label="Example pairs")
    run.click(
        edit, [source, target, parts, method, source_face, target_face],
        [result, source_mask, target_mask, download, note, compare],
        api_name="edit", concurrency_id=common.GPU_QUEUE,
    )
    load.click(load_mask, [target], [painter], api_visibility="private", concurrency_id=common.GPU_QUEUE)
    render.click(
        edit_with_mask, [source, target, painter], [painted_result, target_mask],
        api_name="edit_mask", concurrency_id=common.GPU_QUEUE,
    )


def _legend() -> str:
    """The classes the painter's brush colours stand for (CelebAMask-HQ names and colours, as the Parsing tab), as
    chips (background included: it paints them away)."""
    from facehub.editing.masks import PAINT_CLASSES
    from facehub.parsing.labels import CELEBAMASK

    return common.legend_html(CELEBAMASK, [CELEBAMASK.index(n) for n in PAINT_CLASSES])


def _palette_hex() -> list[str]:
    """The brush colours: one per class of ``PAINT_CLASSES``, in the CelebAMask-HQ palette the masks are shown in."""
    from facehub.editing.masks import PAINT_CLASSES
    from facehub.parsing.labels import CELEBAMASK

    return ["#%02x%02x%02x" % CELEBAMASK.colours[CELEBAMASK.index(n)] for n in PAINT_CLASSES]
