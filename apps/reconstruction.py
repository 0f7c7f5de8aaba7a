"""3D reconstruction tab: a mesh per face you can rotate and download, with pose and depth."""

from __future__ import annotations

import gradio as gr

from facehub import export

from . import common

TASK = "reconstruction"


@common.inference
def reconstruct(path: str, model: str, progress=gr.Progress()):
    """Reconstruct every face; return mesh (GLB), overlay, depth, pose table, downloads and a note."""
    image = common.read_image(path)
    if not common.availability(model).ready:
        overlay, note, _ = common.detection_fallback(image, model)
        return None, overlay, None, None, None, note
    progress(0.2, desc="Detecting faces and regressing UV position maps")
    result = common.predictor(model)(image)
    if not result.faces:
        return None, image, None, None, None, common.faces_note(0)
    progress(0.7, desc="Writing meshes")
    overlay = result.overlay()
    files = export.reconstruction_downloads(result, common.output_dir(), common.download_stem(path), overlay)
    glb = files[1]  # stem.json, stem.glb, stem_obj.zip, stem_overlay.png
    poses = [[i + 1, *(round(v, 1) for v in (f.pose.yaw, f.pose.pitch, f.pose.roll))] for i, f in enumerate(result.faces)]
    note = common.faces_note(len(result.faces), "Drag the mesh to rotate it. Yaw > 0: the face turns to the image's right.")
    return str(glb), overlay, result.depth_image(), poses, [str(f) for f in files], note


def build() -> None:
    with gr.Row():
        with gr.Column():
            photo, model = common.photo_and_model(TASK)
            run = gr.Button("Reconstruct", variant="primary")
            mesh = gr.Model3D(label="Mesh (vertex colours)", clear_color=(0.1, 0.1, 0.1, 1.0), height=380)
        with gr.Column():
            overlay = gr.Image(label="Dense alignment", format="png")
            depth = gr.Image(label="Depth (brighter = nearer)", format="png")
            pose = gr.Dataframe(headers=["face", "yaw °", "pitch °", "roll °"], label="Head pose", interactive=False)
            note = gr.Markdown()
            files = gr.File(label="Downloads: 3D landmarks JSON, GLB, OBJ+MTL+texture (zip), overlay", file_count="multiple")
    gr.Examples(common.EXAMPLES, inputs=[photo], label="Examples")
    run.click(
        reconstruct, [photo, model], [mesh, overlay, depth, pose, files, note],
        api_name="reconstruct", concurrency_id=common.GPU_QUEUE,
    )
