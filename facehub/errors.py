"""The error types FaceHub raises for problems a user can fix.

Every message says what went wrong and what to do about it; the app turns them
into ``gr.Error`` and the CLI into a one-line message with exit code 2.
"""


class FaceHubError(Exception):
    """Base class of every user-facing FaceHub error."""


class CheckpointError(FaceHubError):
    """A named checkpoint cannot be resolved, downloaded or loaded."""


class ImageError(FaceHubError):
    """An input image cannot be decoded or is outside the supported limits."""


class NoFaceError(FaceHubError):
    """No face was found where the task needs at least one."""


class ComponentNotFoundError(FaceHubError):
    """A component chosen for an edit is missing in the source or the target photo (``EditResult.refused``)."""


class FaceNumberError(FaceHubError):
    """A face chosen by its number (1 = the largest in the photo) is not there: the photo has fewer faces."""
