"""68-point landmarks: the predictor (``predictor.py``) and networks (``models/``: PIPNet, stacked Hourglass)."""
