"""Geometry every task shares: alignment and its inverse (``align``), the 68-point index sets (``landmarks68``)
and the one 68 -> 5 / 468 -> 5 conversion (``five_points``)."""
