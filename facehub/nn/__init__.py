"""Layers several families share: ResNet-18 (``resnet.py``), BatchNorm folding (``fuse.py``) and frozen
TorchScript inference on the CPU (``frozen.py``)."""
