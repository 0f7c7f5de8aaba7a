"""Face parsing: the predictor (``predictor.py``), label sets and palettes (``labels.py``), networks (``models/``)."""
