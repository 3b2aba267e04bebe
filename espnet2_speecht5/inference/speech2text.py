"""Speech2Text: recognise a waveform with a trained SpeechT5 ASR model.

Joint CTC/attention beam search (ESPnet's ``BatchBeamSearch``) with these scorers and weights:

* ``decoder``: the attention decoder on its key/value cache, weight ``1 - ctc_weight``;
* ``ctc``: ESPnet's CTC prefix scorer on the model's CTC head, weight ``ctc_weight``;
* ``lm``: an optional language model of ESPnet's LM task, weight ``lm_weight``;
* ``length_bonus``: ``penalty`` per token.

Example::

    speech2text = Speech2Text("exp/asr/config.yaml", "exp/asr/valid.acc.best.pth", beam_size=5)
    text, tokens, token_ids, hyp = speech2text(waveform)[0]
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from espnet.nets.batch_beam_search import BatchBeamSearch
from espnet.nets.beam_search import Hypothesis
from espnet.nets.scorers.length_bonus import LengthBonus
from espnet2.text.build_tokenizer import build_tokenizer
from espnet2.text.token_id_converter import TokenIDConverter

from espnet2_speecht5.inference.audio_input import AudioInput, load_input_audio
from espnet2_speecht5.inference.config_paths import config_for_this_folder
from espnet2_speecht5.inference.precision import apply_quantization, check_bf16_encoder, encoder_autocast
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.search.asr_scorer import SpeechT5DecoderScorer
from espnet2_speecht5.search.ctc_prefix_scorer import ScanCTCPrefixScorer

Result = Tuple[Optional[str], List[str], List[int], Hypothesis]

logger = logging.getLogger(__name__)


def require_file(path: Optional[PathLike], what: str) -> Path:
    """``path`` as a Path if it is an existing file; otherwise a one-line :class:`DataError` naming it."""
    if path is None:
        raise DataError(f"{what} is required")
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what}: no such file: {p}")
    return p


def text_output_task(config: Path) -> Any:
    """The espnet2 task of a speech-to-text ``config.yaml``: ST when it has ST's ``src_token_list``
    option (null or a list), ASR otherwise."""
    import yaml

    from espnet2_speecht5.tasks.asr import ASRTask
    from espnet2_speecht5.tasks.st import STTask

    try:
        with open(config, encoding="utf-8") as f:
            conf = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise DataError(f"not a YAML file ({str(err).splitlines()[0]})", config) from None
    return STTask if isinstance(conf, dict) and "src_token_list" in conf else ASRTask


def load_asr_model(config: PathLike, model_file: Optional[PathLike], device: str = "cpu") -> Tuple[Any, Any]:
    """Build the model (ASR or ST) from its training ``config.yaml`` and load ``model_file``; returns (model, args)."""
    config = require_file(config, "--asr_train_config")
    if model_file is not None:
        model_file = require_file(model_file, "--asr_model_file")
    # Relative stats/BPE paths are the recipe's that wrote the config: found there when this runs
    # elsewhere (a TTS recipe scoring with ../asr1's experiment).
    # The network comes from the config alone; the weights are loaded without unpickling code
    # (ESPnet's own loader unpickles the whole file, code included).
    with tempfile.TemporaryDirectory(prefix="speecht5_config_") as workdir:
        usable = config_for_this_folder(config, workdir)
        model, args = text_output_task(usable).build_model_from_file(usable, None, device)
    if model_file is not None:
        from espnet2_speecht5.checkpoint.weights import load_weights

        load_weights(model, model_file)
        model.to(device)
    return model, args


def load_lm(config: Optional[PathLike], lm_file: Optional[PathLike], device: str = "cpu") -> Optional[torch.nn.Module]:
    """The scorer (``.lm``) of an ESPnet LM trained by ``espnet2.bin.lm_train``; None if neither file is given."""
    if config is None and lm_file is None:
        return None
    from espnet2.tasks.lm import LMTask

    lm_file = require_file(lm_file, "--lm_file")
    config = require_file(config if config is not None else lm_file.parent / "config.yaml", "--lm_train_config")
    try:
        lm, _ = LMTask.build_model_from_file(config, lm_file, device)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"cannot load the language model: {first}", lm_file) from None
    return lm.lm


class Speech2Text:
    """Waveform -> n-best list of (text, tokens, token ids, hypothesis).

    Args:
        asr_train_config: ``config.yaml`` written by training.
        asr_model_file: the trained parameters (``*.pth``).
        lm_train_config, lm_file: an optional language model (``espnet2.bin.lm_train``).
        token_type, bpemodel: override the tokenizer of the training config.
        device: ``cpu`` or ``cuda``.
        beam_size: hypotheses kept; ctc_weight: CTC share of the model score (0..1; default 0.3, and
        0 for an ST model, whose CTC head is over the source language);
        lm_weight: language model weight; penalty: bonus per token;
        maxlenratio: maximum output length as a ratio of encoder frames (0: until end is detected;
        negative: an absolute length); minlenratio: the same for the minimum; nbest: results kept.
        quantize_model: int8 linear layers for CPU inference (:mod:`espnet2_speecht5.inference.precision`).
        bf16_encoder: run the speech encoder under bf16 autocast (the same module).
    """

    def __init__(
        self,
        asr_train_config: PathLike,
        asr_model_file: Optional[PathLike] = None,
        lm_train_config: Optional[PathLike] = None,
        lm_file: Optional[PathLike] = None,
        token_type: Optional[str] = None,
        bpemodel: Optional[str] = None,
        device: str = "cpu",
        beam_size: int = 10,
        ctc_weight: Optional[float] = None,
        lm_weight: float = 0.0,
        penalty: float = 0.0,
        maxlenratio: float = 0.0,
        minlenratio: float = 0.0,
        nbest: int = 1,
        dtype: str = "float32",
        quantize_model: bool = False,
        bf16_encoder: bool = False,
    ) -> None:
        if lm_file is not None or lm_train_config is not None:  # fail fast, before the ASR model loads
            require_file(lm_file, "--lm_file")
            if lm_train_config is not None:
                require_file(lm_train_config, "--lm_train_config")
        model, args = load_asr_model(asr_train_config, asr_model_file, device)
        if not isinstance(model, SpeechT5ASRModel):
            raise DataError(f"not a SpeechT5 ASR configuration ({type(model).__name__})", asr_train_config)
        if ctc_weight is None:
            ctc_weight = 0.3 if getattr(model, "ctc", None) is not None else 0.0
        if not 0.0 <= ctc_weight <= 1.0:
            raise DataError(f"ctc_weight must be in [0, 1], got {ctc_weight}")
        model.to(dtype=getattr(torch, dtype)).eval()
        apply_quantization(model, quantize_model, device)
        check_bf16_encoder(bf16_encoder, device)
        self.bf16_encoder = bf16_encoder
        self.model = model
        self.asr_train_args = args
        self.device = device
        self.dtype = dtype
        self.maxlenratio = maxlenratio
        self.minlenratio = minlenratio
        self.nbest = nbest
        token_list = list(model.token_list or args.token_list)
        self.token_list = token_list

        scorers: Dict[str, Any] = dict(decoder=SpeechT5DecoderScorer(model), length_bonus=LengthBonus(len(token_list)))
        if getattr(model, "ctc", None) is not None:
            scorers["ctc"] = ScanCTCPrefixScorer(ctc=model.ctc, eos=model.eos)
        elif ctc_weight != 0.0:
            # ST: the optional CTC head is over the source language, not the decoder's tokens
            raise DataError(f"ctc_weight must be 0 for a model without a CTC head over its output tokens "
                            f"({type(model).__name__}), got {ctc_weight}")
        weights = dict(decoder=1.0 - ctc_weight, ctc=ctc_weight, length_bonus=penalty, lm=lm_weight)
        lm = load_lm(lm_train_config, lm_file, device)
        if lm is not None:
            lm.to(device=device, dtype=getattr(torch, dtype)).eval()
            scorers["lm"] = lm
        if lm is None and lm_weight != 0.0:
            logger.warning("lm_weight %s is ignored: no language model given", lm_weight)
        self.beam_search = BatchBeamSearch(
            scorers=scorers,
            weights=weights,
            beam_size=beam_size,
            vocab_size=len(token_list),
            sos=model.sos,
            eos=model.eos,
            token_list=token_list,
            pre_beam_score_key=None if ctc_weight == 1.0 else "full",
        )
        self.beam_search.to(device=device, dtype=getattr(torch, dtype)).eval()
        # B utterances x beam hypotheses per decoder call (see :meth:`batch`); ESPnet's search remains
        # the path for what the batched one does not cover (a language model, CTC weight 1).
        self.utterance_batch_search = None
        if lm is None and ctc_weight < 1.0:
            from espnet2_speecht5.search.utterance_batch_beam_search import UtteranceBatchBeamSearch

            self.utterance_batch_search = UtteranceBatchBeamSearch(model, beam_size, ctc_weight, penalty)

        token_type = token_type or args.token_type
        bpemodel = bpemodel if bpemodel is not None else getattr(args, "bpemodel", None)
        if token_type == "bpe" and bpemodel is None:
            raise DataError("token_type bpe needs --bpemodel")
        self.tokenizer = build_tokenizer(token_type=token_type, bpemodel=bpemodel) if token_type else None
        self.converter = TokenIDConverter(token_list=token_list)

    @classmethod
    def from_pretrained(
        cls, model_tag: Optional[str] = None, cache_dir: Optional[PathLike] = None, **kwargs: Any
    ) -> Speech2Text:
        """Build from a packed model.

        Args:
            model_tag: a stage-12 zip (ASR or ST), an unpacked or exported folder, an http(s) URL of a zip, a
                Hugging Face id ``owner/name``, or a transformers SpeechT5ForSpeechToText folder
                (converted once into the cache; it has no CTC head, so ``ctc_weight`` defaults to 0).
                See :func:`espnet2_speecht5.hub.resolve.resolve`.
            cache_dir: where downloads and unpacked files go (default ``~/.cache/espnet2_speecht5``).
            kwargs: constructor options (``beam_size``, ``ctc_weight``, ``device``, ...).
        """
        if not model_tag:
            return cls(**kwargs)
        from espnet2_speecht5.hub.resolve import converted_transformers, resolve

        resolved = resolve(model_tag, cache_dir)
        if kwargs.get("ctc_weight", 0.0) is None:  # not given: the packed inference config's, else the model's default
            del kwargs["ctc_weight"]
        if resolved.layout == "transformers":
            files = converted_transformers(resolved.root, "asr", cache_dir)
            if kwargs.get("ctc_weight", 0.0) != 0.0:
                logger.warning("a transformers model has no trained CTC head: ctc_weight %s is set to 0",
                               kwargs["ctc_weight"])
            kwargs["ctc_weight"] = 0.0
        else:
            # an ST zip names its files st_*; the model loads the same way (the config says which task)
            kind = "st" if "st_train_config" in resolved.files else "asr"
            found = resolved.require(f"{kind}_train_config", f"{kind}_model_file")
            files = {"asr_train_config": found[f"{kind}_train_config"], "asr_model_file": found[f"{kind}_model_file"]}
            for key in ("lm_train_config", "lm_file"):
                if key in resolved.files:
                    files[key] = resolved.files[key]
        for key, value in files.items():
            kwargs.setdefault(key, value)
        for key, value in resolved.inference_options(inspect.signature(cls.__init__).parameters).items():
            kwargs.setdefault(key, value)
        return cls(**kwargs)

    @property
    def translates(self) -> bool:
        """Whether the model is a speech translation model (its output is another language)."""
        from espnet2_speecht5.models.st import SpeechT5STModel

        return isinstance(self.model, SpeechT5STModel)

    def transcribe(self, audio: AudioInput, rate: Optional[int] = None) -> str:
        """The best hypothesis for one utterance, as text (a translation for an ST model).

        Args:
            audio: a file path, or a (L,) waveform (at ``rate``, default 16 kHz).
        """
        text, tokens, _, _ = self(load_input_audio(audio, rate))[0]
        return text if text is not None else " ".join(tokens)

    def _as_waveform(self, speech: Union[torch.Tensor, np.ndarray, str, Path]) -> torch.Tensor:
        """A path, array or (1, L) tensor -> (L,) tensor on the model's device and dtype."""
        if isinstance(speech, (str, Path)):
            speech = load_input_audio(speech)
        if isinstance(speech, np.ndarray):
            speech = torch.from_numpy(speech)
        if speech.dim() == 2:
            if speech.size(0) != 1:
                raise ValueError("give one utterance per list item")
            speech = speech[0]
        return speech.to(device=self.device, dtype=getattr(torch, self.dtype))

    def _results(self, hyps: List[Any]) -> List[Result]:
        results: List[Result] = []
        for hyp in hyps[: self.nbest]:
            token_int = [int(t) for t in hyp.yseq[1:-1].tolist()]
            token_int = [t for t in token_int if t not in (self.model.blank_id, self.model.eos)]
            tokens = self.converter.ids2tokens(token_int)
            text = self.tokenizer.tokens2text(tokens) if self.tokenizer is not None else None
            results.append((text, tokens, token_int, hyp))
        return results

    @torch.no_grad()
    def batch(self, speeches: List[Union[torch.Tensor, np.ndarray, str, Path]]) -> List[List[Result]]:
        """Recognise several utterances, beam-searching them together.

        Each utterance is encoded on its own (the waveform pre-net's group norm would see another
        utterance's padding in a padded batch), then one search runs B utterances x ``beam_size``
        hypotheses through each decoder and CTC call. The results equal those of calling this object
        on each utterance (``test/asr/test_utterance_batch_search.py``). With a language model or
        CTC weight 1, the utterances are decoded one at a time.

        Returns:
            for each utterance, what :meth:`__call__` returns for it.
        """
        if self.utterance_batch_search is None or len(speeches) == 1:
            return [self(speech) for speech in speeches]
        hidden = []
        for speech in speeches:
            wav = self._as_waveform(speech)[None]
            hidden.append(self._encode(wav)[0])
        lengths = torch.tensor([h.size(0) for h in hidden], dtype=torch.long)
        padded = torch.nn.utils.rnn.pad_sequence(hidden, batch_first=True)
        found = self.utterance_batch_search(padded, lengths, self.maxlenratio, self.minlenratio)
        out = []
        for index, hyps in enumerate(found):
            # none ended (a minimum length too long for the limit): ESPnet's search retries with a
            # smaller minimum; let it
            out.append(self._results(hyps) if hyps else self(speeches[index]))
        return out

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """(1, L) waveform -> (1, T, D) encoder output in the model's dtype (bf16 autocast inside
        when ``bf16_encoder``)."""
        lengths = torch.tensor([wav.size(1)], dtype=torch.long, device=self.device)
        with encoder_autocast(self.bf16_encoder, self.device):
            enc, _ = self.model.encode(wav, lengths)
        return enc.hidden.to(getattr(torch, self.dtype))

    @torch.no_grad()
    def __call__(self, speech: Union[torch.Tensor, np.ndarray, str, Path]) -> List[Result]:
        """Recognise one utterance.

        Args:
            speech: (L,) waveform at 16 kHz (a (1, L) batch is accepted too), or an audio file path.

        Returns:
            up to ``nbest`` tuples (text, tokens, token ids, hypothesis), best first.
        """
        hidden = self._encode(self._as_waveform(speech)[None])
        hyps = self.beam_search(x=hidden[0], maxlenratio=self.maxlenratio, minlenratio=self.minlenratio)
        return self._results(hyps)

    def nbest_texts(self, speech: Union[torch.Tensor, np.ndarray, str, Path]) -> List[Tuple[str, float]]:
        """The ``nbest`` best transcripts of one utterance as (text, total log score) pairs, best first
        (the score is the beam search's: attention, CTC and LM terms with their weights, and the
        length bonus)."""
        return [(text or "", float(hyp.score)) for text, _, _, hyp in self(speech)]
