"""SpeechT5 as plain torch modules: pre-nets, the shared encoder-decoder, post-nets and compositions.

Nothing here depends on ESPnet's task machinery; ``espnet2_speecht5.search`` (decoding) and
``espnet2_speecht5.models`` build on it.
"""

from espnet2_speecht5.nets.attention import DecoderCache, MultiHeadAttention
from espnet2_speecht5.nets.compositions import (
    EncoderOutput,
    SpeechOutput,
    SpeechToSpeech,
    SpeechToText,
    TextOutput,
    TextToSpeech,
    build_network,
    shift_mel_right,
)
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.decoder import Decoder
from espnet2_speecht5.nets.encoder import Encoder

__all__ = [
    "Decoder",
    "DecoderCache",
    "Encoder",
    "EncoderOutput",
    "MultiHeadAttention",
    "SpeechOutput",
    "SpeechT5Config",
    "SpeechToSpeech",
    "SpeechToText",
    "TextOutput",
    "TextToSpeech",
    "build_network",
    "shift_mel_right",
]
