"""Component editing tab: move eyes, mouth, face or hair from a source face onto a target."""

from __future__ import annotations

import gradio as gr
import numpy as np

from . import common

TASK = "editing"
PARTS = ["hair", "eyes", "mouth", "face", "nose", "brows"]
METHODS = ["blend", "gan"]


@common.inference
def edit(source: str, target: str, parts: list[str], method: str, progress=gr.Progress()):
    """Edit the target's largest face with the source's largest face's chosen components; return result, masks, note."""
    source_image = common.read_image(source, "source photo")
    target_image = common.read_image(target, "target photo")
    name = common.model_choices(TASK)[0]
    if not common.availability(name).ready and method == "gan":
        raise gr.Error(common.not_trained_note(name, 0))
    if not parts:
        raise gr.Error("Tick at least one component to move (hair, eyes, mouth, ...).")
    progress(0.2, desc="Parsing both faces")
    result = common.predictor(name)(source_image, target_image, parts=tuple(parts), method=method)
    if not result.faces:
        raise gr.Error("No face found in the source or the target photo, so nothing was edited. Use photos with a clearly visible face.")
    out = result.save(common.output_dir(), f"{common.download_stem(target)}_edited")[0]
    note = f"Moved **{', '.join(parts)}** with the **{method}** method; the rest of the target photo is untouched."
    return result.image_pil(), result.source_mask_image(), result.target_mask_image(), str(out), note


@common.inference
def load_mask(target: str):
    """The target's parsing mask as a colour image, to paint on."""
    image = common.read_image(target, "target photo")
    name = common.model_choices(TASK)[0]
    mask = common.predictor(name).target_mask_image(image)
    return {"background": np.asarray(mask), "layers": [], "composite": np.asarray(mask)}


@common.inference
def edit_with_mask(source: str, target: str, painted: dict, progress=gr.Progress()):
    """Render the target with the user's painted mask (colours snapped to the label palette)."""
    source_image = common.read_image(source, "source photo")
    target_image = common.read_image(target, "target photo")
    if not painted or painted.get("composite") is None:
        raise gr.Error("Load the target's mask into the editor and paint on it first.")
    name = common.model_choices(TASK)[0]
    editor = common.predictor(name)
    progress(0.3, desc="Rendering the painted mask")
    result = editor.render_painted_mask(source_image, target_image, np.asarray(painted["composite"])[..., :3])
    return result.image_pil(), result.layout_image()


def build() -> None:
    with gr.Row():
        source = gr.Image(type="filepath", label="Source (components come from its largest face)")
        target = gr.Image(type="filepath", label="Target (its largest face is edited)")
    with gr.Row():
        parts = gr.CheckboxGroup(PARTS, value=["hair"], label="Components to move")
        method = gr.Radio(METHODS, value="blend", label="Method (blend: classical compositing; gan: mask-guided editor)")
    run = gr.Button("Edit", variant="primary")
    with gr.Row():
        result = gr.Image(label="Result (target, full resolution)", format="png")
        with gr.Column():
            source_mask = gr.Image(label="Source mask", format="png", height=200)
            target_mask = gr.Image(label="Target mask", format="png", height=200)
    note = gr.Markdown()
    download = gr.File(label="Download the result")
    with gr.Accordion("Paint the target's mask", open=False):
        gr.Markdown("Load the target's mask, paint regions with the label colours (legend below), then render.")
        gr.Image(value=_legend(), label="Label colours", height=220, interactive=False, format="png")
        painter = gr.ImageEditor(label="Target mask", type="numpy", brush=gr.Brush(colors=_palette_hex(), color_mode="fixed"))
        with gr.Row():
            load = gr.Button("Load target mask")
            render = gr.Button("Render painted mask", variant="primary")
        painted_result = gr.Image(label="Rendered from the painted mask", format="png")
    pairs = [[a, b] for a, b in zip(common.EXAMPLES, common.EXAMPLES[1:] + common.EXAMPLES[:1])]
    gr.Examples(pairs, inputs=[source, target], label="Example pairs")
    run.click(
        edit, [source, target, parts, method], [result, source_mask, target_mask, download, note],
        api_name="edit", concurrency_id=common.GPU_QUEUE,
    )
    load.click(load_mask, [target], [painter], api_visibility="private", concurrency_id=common.GPU_QUEUE)
    render.click(
        edit_with_mask, [source, target, painter], [painted_result, target_mask],
        api_name="edit_mask", concurrency_id=common.GPU_QUEUE,
    )


def _legend():
    from facehub.parsing.labels import LAPA, draw_legend

    return draw_legend(LAPA)


def _palette_hex() -> list[str]:
    """The LaPa palette the editor's masks use, as brush colours (one per class)."""
    from facehub.parsing.labels import LAPA

    return ["#%02x%02x%02x" % colour for colour in LAPA.colours]
