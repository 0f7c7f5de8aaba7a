"""Component editing: the predictor (``predictor.py``), the editor's label set and part masks (``masks.py``),
when it refuses (``refusal.py``), the classical blend (``blend.py``, ``blend_ops.py``) and the mask-guided GAN (``models/portrait_editor.py``)."""
