"""MTCNN's three cascaded networks (Zhang et al. 2016) in plain torch.

The layer names and shapes match facenet-pytorch 2.6.0, whose weights
``scripts/convert_mtcnn.py`` converts into ``weights/mtcnn/``. Every network
takes images normalised as ``(rgb - 127.5) / 128`` (values in about [-1, 1]),
shape (N, 3, H, W), RGB channel order. The detection pipeline (image pyramid,
NMS, box regression) lives in ``facehub/detection/detector.py``.

The fully connected layers of R-Net and O-Net read their feature maps in
(W, H, C) order, as the original Caffe models (trained on transposed images) do.
"""

from __future__ import annotations

import torch
from torch import nn


class PNet(nn.Module):
    """Proposal network: a fully convolutional 12x12 face/not-face classifier.

    Input (N, 3, H, W) with H, W >= 12. Output ``(prob, reg)``: face
    probability (N, H', W') in [0, 1] and box offsets (N, 4, H', W') in units
    of the 12 px cell, where H' = ceil((H - 2) / 2) - 4 (stride 2).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        logits = self.conv4_1(x)
        prob = torch.softmax(logits, dim=1)[:, 1]
        return prob, self.conv4_2(x)


class RNet(nn.Module):
    """Refinement network on 24x24 crops.

    Input (N, 3, 24, 24). Output ``(prob, reg)``: face probability (N,) in
    [0, 1] and box offsets (N, 4) in units of the crop's width/height.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        prob = torch.softmax(self.dense5_1(x), dim=1)[:, 1]
        return prob, self.dense5_2(x)


class ONet(nn.Module):
    """Output network on 48x48 crops.

    Input (N, 3, 48, 48). Output ``(prob, reg, points)``: face probability
    (N,) in [0, 1], box offsets (N, 4) in units of the crop's width/height, and
    five points (N, 10) as ``x1..x5, y1..y5`` in crop units ([0, 1] inside it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        prob = torch.softmax(self.dense6_1(x), dim=1)[:, 1]
        return prob, self.dense6_2(x), self.dense6_3(x)


class MTCNN(nn.Module):
    """The three MTCNN stages as submodules ``pnet``, ``rnet`` and ``onet``.

    It has no ``forward``: ``facehub.detection.detector.FaceDetector`` runs the cascade.
    Takes no arguments (family ``"mtcnn"``, ``model_args`` ``{}``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.pnet = PNet()
        self.rnet = RNet()
        self.onet = ONet()
