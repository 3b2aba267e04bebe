"""ESPnet models (``AbsESPnetModel``) assembled from :mod:`espnet2_speecht5.nets`, one per task."""
