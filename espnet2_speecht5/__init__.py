"""SpeechT5 for ESPnet2: tasks, models and recipe entry points."""

__version__ = "0.1.0"
