"""Landmarks tab: every face's points, with indices/contours, crops and JSON/CSV downloads."""

from __future__ import annotations

import gradio as gr

from facehub import export

from . import common

TASK = "landmarks"


@common.inference
def landmarks(path: str, model: str, show_indices: bool, contours: bool, detector: str | None = None,
              progress=gr.Progress()):
    """Locate the landmarks of every face; return overlay preview (JPEG), crops, downloads, JSON and a note."""
    image = common.read_image(path)
    if not common.availability(model).ready:
        overlay, note, result = common.detection_fallback(image, model, detector)
        return overlay, [], None, result.to_json(), note
    progress(0.2, desc="Detecting faces and locating landmarks")
    result = common.task_predictor(model, detector)(image)
    overlay = result.overlay(show_indices=show_indices, contours=contours)
    folder, stem = common.output_dir(), common.download_stem(path)
    files = [str(f) for f in export.landmarks_downloads(result, folder, stem, overlay)]
    crops = common.gallery(result.face_crops(show_indices=show_indices), result.faces, folder, stem)
    note = common.faces_note(len(result.faces), f"{result.points.shape[1] if len(result.faces) else 68} points per face, in photo pixels.")
    return common.preview(overlay, folder, f"{stem}_preview"), crops, files, result.to_json(), note


def build() -> None:
    with gr.Row():
        with gr.Column():
            photo, model = common.photo_and_model(TASK)
            detector = common.detector_picker()
            with gr.Row():
                show_indices = gr.Checkbox(False, label="Show point indices")
                contours = gr.Checkbox(True, label="Draw contour lines")
            run = gr.Button("Locate landmarks", variant="primary")
        with gr.Column():
            overlay = gr.Image(label="Landmarks (preview; the PNG is in the downloads)")
            note = gr.Markdown()
            crops = gr.Gallery(label="Aligned faces with points", columns=4, height=200)
            files = gr.File(label="Downloads: JSON (as the CLI), CSV, overlay", file_count="multiple")
            points = gr.JSON(label="Points (JSON)", open=True)
    gr.Examples(common.EXAMPLES, inputs=[photo], label="Examples")
    run.click(
        landmarks, [photo, model, show_indices, contours, detector], [overlay, crops, files, points, note],
        api_name="landmarks", concurrency_id=common.GPU_QUEUE,
    )
