"""Containers on this machine through podman: the engine's configuration, the images, compose projects."""
