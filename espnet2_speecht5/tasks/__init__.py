"""espnet2 tasks for SpeechT5 (ASR, ...), built on :mod:`espnet2_speecht5.models`."""
