"""Python inference APIs with ``from_pretrained``: Speech2Text, Text2Speech, Speech2Speech, Speech2Label.

Also what the recipe stages run a trained model for: decoding and synthesising a data set
(:mod:`~espnet2_speecht5.inference.asr_decoding`, :mod:`~espnet2_speecht5.inference.tts_synthesis`),
held-out pre-training scores, and the features and k-means labels of pre-training
(:mod:`~espnet2_speecht5.inference.cluster_labels`).

ESPnet is imported here first, quietly: its attention module prints a Flash Attention notice on
stdout, and g2p_en (behind its tokenizers) tries to download nltk data, which would touch the
network on every start.
"""

from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

with quiet_espnet():
    import espnet.nets.pytorch_backend.transformer.attention  # noqa: F401
    import espnet2.text.build_tokenizer  # noqa: F401
