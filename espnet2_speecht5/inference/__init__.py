"""Python inference APIs with ``from_pretrained``: Speech2Text, Text2Speech, Speech2Speech, Speech2Label.

ESPnet is imported here first, quietly: its attention module prints a Flash Attention notice on
stdout, and g2p_en (behind its tokenizers) tries to download nltk data, which would touch the
network on every start.
"""

from espnet2_speecht5.bin.quiet_imports import quiet_espnet

with quiet_espnet():
    import espnet.nets.pytorch_backend.transformer.attention  # noqa: F401
    import espnet2.text.build_tokenizer  # noqa: F401
