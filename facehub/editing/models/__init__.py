"""Editing networks: the mask-guided portrait editor (generator side; discriminators are in facehub.train.editing)."""
