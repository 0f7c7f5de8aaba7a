"""Task predictors: ``Predictor(image) -> Result``. Loaded through ``facehub.load``."""

TASK_PREDICTORS: dict[str, str] = {
    "detection": "facehub.detection:FaceDetector",
    "parsing": "facehub.tasks.parsing:FaceParser",
    "landmarks": "facehub.tasks.landmarks:LandmarkPredictor",
    "reconstruction": "facehub.tasks.reconstruction:FaceReconstructor",
    "editing": "facehub.tasks.editing:PortraitEditor",
}
