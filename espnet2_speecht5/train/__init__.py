"""Training support on top of ESPnet's trainer: crash-safe checkpoints, full-state resume, and the
checks of the training options before ESPnet starts (:mod:`espnet2_speecht5.train.checks`).

The trainer is :class:`espnet2_speecht5.train.trainer.SpeechT5Trainer` (imported from its module,
so that importing this package does not import ESPnet). Its files are written with
:mod:`espnet2_speecht5.checkpoint.atomic_files`.
"""
