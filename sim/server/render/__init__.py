"""Renderer package (see renderer.py)."""
