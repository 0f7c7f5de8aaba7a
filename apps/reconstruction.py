"""3D reconstruction tab: a mesh per face you can rotate and download, with pose and depth."""

from __future__ import annotations

import gradio as gr

from facehub import export
from facehub.reconstruction.mesh import POSE_CONVENTION

from . import common

TASK = "reconstruction"
POSE_NOTE = (
    "Degrees, in AFLW2000-3D's `Pose_Para` convention (the JSON download's `\"convention\"`): "
    "**yaw > 0** the face turns towards the image's left (the subject's own right), **pitch > 0** it looks up, "
    f"**roll > 0** the head tilts clockwise on screen; {POSE_CONVENTION['rotation'].split(':')[0]}. "
    "The preview draws each face's axes from its nose tip: x red, y green (up), z blue (where the nose points)."
)


@common.inference
def reconstruct(path: str, model: str, detector: str | None = None, progress=gr.Progress()):
    """Reconstruct every face; return mesh (GLB), overlay and depth previews (JPEG), pose table, downloads, note."""
    image = common.read_image(path)
    if not common.availability(model).ready:
        overlay, note, _ = common.detection_fallback(image, model, detector)
        return None, overlay, None, None, None, note
    progress(0.2, desc="Detecting faces and regressing UV position maps")
    result = common.task_predictor(model, detector)(image)
    if not result.faces:
        return None, common.preview(image, common.output_dir(), "photo"), None, None, None, common.faces_note(0)
    progress(0.7, desc="Writing meshes")
    overlay = result.overlay()
    folder, stem = common.output_dir(), common.download_stem(path)
    files = export.reconstruction_downloads(result, folder, stem, overlay)
    glb = files[1]  # stem.json, stem.glb, stem_obj.zip, stem_overlay.png
    poses = [[i + 1, *(round(v, 1) for v in (f.pose.yaw, f.pose.pitch, f.pose.roll))] for i, f in enumerate(result.faces)]
    note = common.faces_note(len(result.faces), "Drag the mesh to rotate it.")
    previews = common.preview(overlay, folder, f"{stem}_preview"), common.preview(result.depth_image(), folder, f"{stem}_depth")
    return str(glb), *previews, poses, [str(f) for f in files], note


def build() -> None:
    with gr.Row():
        with gr.Column():
            photo, model = common.photo_and_model(TASK)
            detector = common.detector_picker()
            run = gr.Button("Reconstruct", variant="primary")
            mesh = gr.Model3D(label="Mesh (vertex colours)", clear_color=(0.1, 0.1, 0.1, 1.0), height=380)
        with gr.Column():
            with gr.Row():
                overlay = gr.Image(label="Dense alignment (preview)", height=320)
                depth = gr.Image(label="Depth (brighter = nearer)", height=320)
            pose = gr.Dataframe(headers=["face", "yaw °", "pitch °", "roll °"], label="Head pose", interactive=False)
            gr.Markdown(POSE_NOTE)
            note = gr.Markdown()
            files = gr.File(label="Downloads: 3D landmarks JSON, GLB, OBJ+MTL+texture (zip), overlay", file_count="multiple")
    gr.Examples(common.EXAMPLES, inputs=[photo], label="Examples")
    run.click(
        reconstruct, [photo, model, detector], [mesh, overlay, depth, pose, files, note],
        api_name="reconstruct", concurrency_id=common.GPU_QUEUE,
    )
