"""Training support on top of ESPnet's trainer: crash-safe checkpoints and full-state resume.

The trainer is :class:`espnet2_speecht5.train.trainer.SpeechT5Trainer` (imported from its module,
so that the light :mod:`espnet2_speecht5.train.atomic_files` can be used without ESPnet).
"""
