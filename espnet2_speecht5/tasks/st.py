"""The espnet2 ST task for SpeechT5: speech in, target-language tokens out.

Data: ``speech`` (raw 16 kHz waveform), ``text`` (the translation, tokenised with
``--token_list``/``--token_type``/``--bpemodel``) and, optionally, ``src_text`` (the source
transcript, tokenised with ``--src_token_list``/``--src_token_type``/``--src_bpemodel``), which
the source CTC of ``model_conf: {src_ctc_weight: ...}`` needs.  Both are tokenised by ESPnet's
``MutliTokenizerCommonPreprocessor`` when a source list is given, by ``CommonPreprocessor``
otherwise.  ``--model_conf`` takes the keyword arguments of
:class:`~espnet2_speecht5.models.st.SpeechT5STModel`; an unknown key is a one-line error.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict

from espnet2.train.preprocessor import AbsPreprocessor, MutliTokenizerCommonPreprocessor
from espnet2.utils.types import str_or_none

from espnet2_speecht5.models.st import SpeechT5STModel
from espnet2_speecht5.tasks.common import TEXT_NAME, ConfigError, SpeechT5AbsTask, read_token_list

SRC_TEXT_NAME = "src_text"

DEFAULT_MODEL_CONF: Dict[str, Any] = dict(
    src_ctc_weight=0.0,
    lsm_weight=0.1,
    length_normalized_loss=False,
    ctc_dropout=0.0,
    ignore_id=-1,
)


class STTask(SpeechT5AbsTask):
    """SpeechT5 ST: waveform in, target-language tokens out; optional CTC on the source transcript."""

    model_class = SpeechT5STModel
    default_model_conf = DEFAULT_MODEL_CONF
    model_conf_help = "keyword arguments of SpeechT5STModel (src_ctc_weight, lsm_weight, ...)"
    optional_inputs = (SRC_TEXT_NAME,)

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = cls.add_common_arguments(parser)
        group.add_argument("--src_token_list", type=str_or_none, default=None,
                           help="source-language token list (for model_conf src_ctc_weight > 0)")
        group.add_argument("--src_token_type", type=str, default="char", choices=list(cls.token_types),
                           help="how the source transcript is tokenised")
        group.add_argument("--src_bpemodel", type=str_or_none, default=None,
                           help="sentencepiece model of the source (src_token_type bpe)")
        group.add_argument("--speech_volume_normalize", type=float, default=None, help="scale the peak to this value")

    @classmethod
    def text_preprocessor(cls, args: argparse.Namespace, train: bool) -> AbsPreprocessor:
        if getattr(args, "src_token_list", None) is None:
            return super().text_preprocessor(args, train)
        return MutliTokenizerCommonPreprocessor(
            train=train,
            token_type=[args.token_type, args.src_token_type],
            token_list=[args.token_list, args.src_token_list],
            bpemodel=[args.bpemodel, args.src_bpemodel],
            non_linguistic_symbols=args.non_linguistic_symbols,
            text_cleaner=args.cleaner,
            g2p_type=None,
            speech_volume_normalize=getattr(args, "speech_volume_normalize", None),
            speech_name="speech",
            text_name=[TEXT_NAME, SRC_TEXT_NAME],
        )

    @classmethod
    def task_model_kwargs(cls, args: argparse.Namespace) -> Dict[str, Any]:
        """``src_vocab_size`` from ``--src_token_list`` (0 without one)."""
        conf = cls.check_model_conf(getattr(args, "model_conf", None))
        src_list = getattr(args, "src_token_list", None)
        if src_list is None:
            if conf.get("src_ctc_weight", 0.0) > 0.0:
                raise ConfigError("model_conf: src_ctc_weight > 0 needs --src_token_list (the source token list)")
            return {"src_vocab_size": 0}
        src_tokens = read_token_list(src_list)
        args.src_token_list = src_tokens  # stored in config.yaml, so that the experiment is self-contained
        return {"src_vocab_size": len(src_tokens)}
