"""Training only (needs requirements-train.txt); the runtime package never imports it.

``engine.py`` is the one training loop; ``data/`` reads every dataset layout and the teachers; ``parsing/``,
``landmarks/``, ``reconstruction/`` and ``editing/`` hold each task's dataset, augmentation, losses and recipe;
``eval/`` the evaluators that scripts and tests share.
"""
