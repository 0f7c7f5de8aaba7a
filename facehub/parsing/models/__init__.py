"""Parsing networks: BiSeNet V1 and the ViT face transformer."""
