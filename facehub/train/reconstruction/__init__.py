"""PRNet training: the UV-map dataset, the losses, the recipe, the run checkpoints and the export with its card."""
