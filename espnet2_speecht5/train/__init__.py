"""Training support on top of ESPnet's trainer: crash-safe checkpoints and full-state resume.

The trainer is :class:`espnet2_speecht5.train.trainer.SpeechT5Trainer` (imported from its module,
so that importing this package does not import ESPnet). Its files are written with
:mod:`espnet2_speecht5.checkpoint.atomic_files`.
"""
