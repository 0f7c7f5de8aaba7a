"""The app's tabs: (title, module) pairs; each module has ``build()``."""

from . import editing, landmarks, parsing, reconstruction

TABS = [
    ("Parsing", parsing),
    ("Landmarks", landmarks),
    ("3D reconstruction", reconstruction),
    ("Component editing", editing),
]
