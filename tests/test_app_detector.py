"""The single-photo tabs' face-detector picker: every shipped detector can be chosen through the API, and
callers that omit it (older clients) get the default."""

from __future__ import annotations

import pytest

from tests.app_server import ROOT

TWO_PEOPLE = ROOT / "examples" / "two_people.jpg"


@pytest.mark.parametrize("detector", ["face-detector", "mtcnn", "blazeface-short"])
def test_detect_endpoint_uses_the_chosen_detector(app_url, detector: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    _, faces = client.predict(handle_file(str(TWO_PEOPLE)), detector, api_name="/detect")
    # BlazeFace short range cannot see the astronaut (under 12% of the photo's width); the others find both faces
    assert len(faces) == (1 if detector == "blazeface-short" else 2)


def test_landmarks_without_a_detector_argument_use_the_default(app_url) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    photo = handle_file(str(TWO_PEOPLE))
    default = client.predict(photo, "pipnet", False, True, api_name="/landmarks")[3]
    chosen = client.predict(photo, "pipnet", False, True, "face-detector", api_name="/landmarks")[3]
    assert len(default) == 2 and default == chosen
