"""Parsing tab: every face parsed into parts and pasted back, with legend and downloads."""

from __future__ import annotations

import gradio as gr
import numpy as np

from facehub import export

from . import common

TASK = "parsing"


@common.inference
def parse(path: str, model: str, opacity: float, classes: list[str] | None, detector: str | None = None,
          progress=gr.Progress()):
    """Parse every face in the photo; return overlay preview (JPEG), legend (HTML chips), crops, downloads, note."""
    image = common.read_image(path)
    if not common.availability(model).ready:
        overlay, note, _ = common.detection_fallback(image, model, detector)
        return overlay, "", [], None, note
    progress(0.2, desc="Detecting and parsing faces")
    result = common.task_predictor(model, detector)(image)
    progress(0.8, desc="Drawing")
    overlay = result.overlay(alpha=opacity, classes=classes or None)
    folder, stem = common.output_dir(), common.download_stem(path)
    files = [str(f) for f in export.parsing_downloads(result, folder, stem, overlay)]
    crops = common.gallery(result.face_crops(), result.faces, folder, stem)
    note = common.faces_note(len(result.faces), "The class-index PNG holds one label index per pixel (names in labels.json).")
    shown = [result.label_set.index(c) for c in classes] if classes else list(range(1, len(result.labels)))
    legend = common.legend_html(result.label_set, shown, present=set(np.unique(result.class_map).tolist()))
    return common.preview(overlay, folder, f"{stem}_preview"), legend, crops, files, note


@common.user_errors
def detect(path: str, detector: str | None = None):
    """Faces only: boxes, scores and five points, as an image and JSON."""
    image = common.read_image(path)
    result = common.detector(detector)(image)
    return common.preview(result.overlay(), common.output_dir(), f"{common.download_stem(path)}_faces"), result.to_json()


def build() -> None:
    with gr.Row():
        with gr.Column():
            photo, model = common.photo_and_model(TASK)
            detector = common.detector_picker()
            opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Overlay opacity")
            classes = gr.CheckboxGroup(_safe_names(model.value), label="Classes to show (none ticked = all)")
            with gr.Row():
                run = gr.Button("Parse", variant="primary")
                faces_only = gr.Button("Detect faces only")
        with gr.Column():
            with gr.Row(equal_height=False):
                overlay = gr.Image(label="Parsing overlay (preview; the PNG is in the downloads)", scale=3)
                legend = gr.HTML(label="Legend", show_label=True, container=True, padding=True, scale=1, min_width=150)
            note = gr.Markdown()
            crops = gr.Gallery(label="Faces", columns=4, height=200)
            files = gr.File(label="Downloads: class-index mask + labels.json (as the CLI), colour mask, overlay, JSON", file_count="multiple")
            detections = gr.JSON(label="Detected faces", open=True)
    gr.Examples(common.EXAMPLES, inputs=[photo], label="Examples")
    run.click(
        parse, [photo, model, opacity, classes, detector], [overlay, legend, crops, files, note],
        api_name="parse", concurrency_id=common.GPU_QUEUE,
    )
    faces_only.click(detect, [photo, detector], [overlay, detections], api_name="detect", concurrency_id=common.GPU_QUEUE)
    model.change(lambda m: gr.CheckboxGroup(choices=_safe_names(m), value=[]), [model], [classes], api_visibility="private")


def _safe_names(model: str) -> list[str]:
    """The class names of ``model`` from its config.json, or [] when it is not available here."""
    if not common.availability(model).ready:
        return []
    from facehub.hub import read_config, resolve_checkpoint

    return list(read_config(resolve_checkpoint(model), model).get("labels", []))
