"""Layers several families share: ResNet-18 (``resnet.py``) and BatchNorm folding (``fuse.py``)."""
