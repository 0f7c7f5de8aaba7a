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
LAUNCH_OPTIONS = {"max_file_size": "50mb", "show_error": True}
# Waiting calls the queue holds (all tabs together; one model run at a time, ``default_concurrency_limit=1``).
# Measured through gradio_client on 2 CPU cores, warm, a 512x600 photo: /detect 0.2 s, /landmarks 0.4 s, /parse
# and /reconstruct 0.55 s, /edit 0.7 s a call; 20 simultaneous /landmarks calls take 7 s in all. Memory is bounded
# by the one running call (a photo is decoded only when its call runs: at most 40 MP = 120 MB, plus the model),
# not by the queue: a waiting call holds a few kB of RAM and its upload on disk (at most 50 MB: 64 waiting =
# 3.2 GB at worst, a few MB typically). What the bound protects is the wait: 64 calls of the slowest endpoint
# are ~45 s for the last one, under a minute, and 20 simultaneous users fit three times over (16 rejected 3 of 20).
QUEUE_SIZE = int(os.environ.get("FACEHUB_QUEUE_SIZE", 64))


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        for title, module in apps.TABS:
            with gr.Tab(title):
                module.build()
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda[:N]")
    args = parser.parse_args()
    os.environ["FACEHUB_DEVICE"] = args.device
    build_demo().launch(share=args.share, server_name=args.host, server_port=args.port, **LAUNCH_OPTIONS)


if __name__ == "__main__":
    main()
