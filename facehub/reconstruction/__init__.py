"""3D reconstruction: the predictor (``predictor.py``), the UV layout (``uv.py``), meshes and head pose (``mesh.py``),
the network (``models/prnet.py``)."""
