"""FaceHub: the tabbed Gradio app. `python app.py [--share] [--host H] [--port P] [--device D]`."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

import apps  # noqa: E402

TITLE = "FaceHub"
INTRO = (
    "Face parsing, landmarks, 3D reconstruction and component editing for every face in a photo. "
    "Models trained by the FaceHub team on research-only data (see each model card); runs on the GPU when there is one."
)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        for title, module in apps.TABS:
            with gr.Tab(title):
                module.build()
    demo.queue(max_size=int(os.environ.get("FACEHUB_QUEUE_SIZE", 16)), default_concurrency_limit=1)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda[:N]")
    args = parser.parse_args()
    os.environ["FACEHUB_DEVICE"] = args.device
    build_demo().launch(
        share=args.share, server_name=args.host, server_port=args.port, max_file_size="50mb", show_error=True
    )


if __name__ == "__main__":
    main()
