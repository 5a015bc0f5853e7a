"""segood: pixel-wise anomaly segmentation (CAOS benchmark), scorers and exact metrics."""

__version__ = "0.1.0"
