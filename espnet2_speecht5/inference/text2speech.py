"""Text2Speech: synthesise speech with a trained SpeechT5 TTS model.

Text is first normalised (:mod:`espnet2_speecht5.text.normalize`: numbers, symbols, abbreviations,
case and punctuation fitted to the token list; ``text_normalizer`` of the model's config, ``english``
by default), then tokenised with the training configuration's tokenizer; characters still outside
the token list become ``<unk>`` and are named in one warning per call. :meth:`Text2Speech.synthesize`
splits long text into sentences and joins their audio with short pauses. Generation runs a batch of
utterances at once on the decoder's key/value cache (:func:`~espnet2_speecht5.search.greedy.generate_speech`),
stopping each one when its stop probabilities reach ``threshold`` (within the min/max length
ratios). A vocoder (Griffin-Lim by default, or HiFi-GAN) turns the log-mel into a waveform.

Example::

    tts = Text2Speech("exp/tts/config.yaml", "exp/tts/valid.loss.best.pth")
    result = tts(["the pen is red"], spembs=xvector[None])[0]
    soundfile.write("out.wav", result.wav, tts.sample_rate)
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np
import torch
from espnet2.text.build_tokenizer import build_tokenizer
from espnet2.text.cleaner import TextCleaner
from espnet2.text.token_id_converter import TokenIDConverter

from espnet2_speecht5.checkpoint.weights import load_weights
from espnet2_speecht5.inference.precision import apply_quantization
from espnet2_speecht5.inference.speech2text import require_file
from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)
# tokens that carry no sound of their own: a text of these and unknown ones is refused
SPACE_TOKENS = ("<space>", " ")

SPEAKER_TABLE_NAME = "spk_xvector.ark"
SpeakerInput = Union[None, str, Path, np.ndarray, torch.Tensor]


def read_speaker_table(path: PathLike) -> Dict[str, np.ndarray]:
    """Named x-vectors from a Kaldi ark (or scp) file: {speaker: (D,) float32}."""
    import kaldiio

    path = require_file(path, "speaker table")
    try:
        reader = kaldiio.load_scp(str(path)) if path.suffix == ".scp" else kaldiio.load_ark(str(path))
        table = {str(name): np.array(vector, dtype=np.float32).reshape(-1) for name, vector in dict(reader).items()}
    except Exception as err:  # noqa: BLE001 - kaldiio raises many kinds for a damaged file
        raise DataError(f"cannot read the speaker table ({type(err).__name__}: {err})", path) from None
    if not table:
        raise DataError("the speaker table is empty", path)
    return table


@dataclass
class SynthesisResult:
    """One utterance: mel (T, 80) log10 after the post-net, wav (T·256,) or None without a vocoder,
    stop_probs (T,), attention (L, H, T / r, S) cross-attention per decoder block (or None)."""

    mel: np.ndarray
    wav: Optional[np.ndarray]
    stop_probs: np.ndarray
    attention: Optional[np.ndarray]


def load_tts_model(config: PathLike, model_file: Optional[PathLike], device: str = "cpu") -> Tuple[Any, Any]:
    """Build the model from its training ``config.yaml`` and load ``model_file``; returns (model, args)."""
    from espnet2_speecht5.tasks.tts import TTSTask

    config = require_file(config, "--train_config")
    if model_file is not None:
        model_file = require_file(model_file, "--model_file")
    # The network comes from the config alone; the weights are loaded without unpickling code
    # (ESPnet's own loader unpickles the whole file, code included).
    model, args = TTSTask.build_model_from_file(config, None, device)
    if not isinstance(model, SpeechT5TTSModel):
        raise DataError(f"not a SpeechT5 TTS configuration ({type(model).__name__})", config)
    if model_file is not None:
        load_weights(model, model_file)
        model.to(device)
    return model, args


class Text2Speech:
    """Text (+ speaker x-vector) -> log-mel and waveform.

    Args:
        train_config, model_file: ``config.yaml`` and ``*.pth`` of a TTS training run.
        device: ``cpu`` or ``cuda``.
        threshold: stop when the r stop probabilities of a step sum to at least this.
        minlenratio, maxlenratio: decoder steps between int(N·ratio / r) for N input tokens.
        vocoder: ``griffin_lim``, ``hifigan`` (with ``vocoder_file``) or ``none`` (mel only).
        vocoder_file: HiFi-GAN weights: a transformers SpeechT5HifiGan folder or the official checkpoint.
        vocoder_conf: the vocoder's options (Griffin-Lim: n_iter, momentum, seed).
        text_normalizer, text_normalizer_conf: override the model config's normaliser (``english``,
            ``none``) and its options (``max_chars``, ``pause_s``, ``sentence_batch``).
        prenet_dropout: keep the speech-decoder pre-net dropout on while generating (None: the
            model's ``prenet_dropout_at_inference``).
        seed: seeds the pre-net dropout, so that a run is reproducible.
        speaker_table: a Kaldi ark or scp of named x-vectors (the training speakers' means that
            stage 12 packs), so that :meth:`synthesize` can take a speaker by name.
        quantize_model: int8 linear layers for CPU inference (:mod:`espnet2_speecht5.inference.precision`).
    """

    def __init__(
        self,
        train_config: PathLike,
        model_file: Optional[PathLike] = None,
        device: str = "cpu",
        threshold: float = 0.5,
        minlenratio: float = 0.0,
        maxlenratio: float = 10.0,
        vocoder: str = "griffin_lim",
        vocoder_file: Optional[str] = None,
        vocoder_conf: Optional[Dict[str, Any]] = None,
        prenet_dropout: Optional[bool] = None,
        seed: int = 0,
        speaker_table: Optional[PathLike] = None,
        quantize_model: bool = False,
        text_normalizer: Optional[str] = None,
        text_normalizer_conf: Optional[Dict[str, Any]] = None,
    ) -> None:
        if vocoder == "noisy_phase":
            raise DataError("vocoder noisy_phase resynthesises from a noisy recording (speech enhancement); "
                            "text-to-speech has none: use griffin_lim or hifigan")
        model, args = load_tts_model(train_config, model_file, device)
        model.eval()
        apply_quantization(model, quantize_model, device)
        if prenet_dropout is not None:
            model.net.speech_decoder_prenet.always_dropout = prenet_dropout
        self.model = model
        self.train_args = args
        self.device = device
        self.threshold = threshold
        self.minlenratio = minlenratio
        self.maxlenratio = maxlenratio
        self.seed = seed
        self.token_list = list(model.token_list or args.token_list)
        self.tokenizer = build_tokenizer(
            token_type=args.token_type,
            bpemodel=getattr(args, "bpemodel", None),
            non_linguistic_symbols=getattr(args, "non_linguistic_symbols", None),
            g2p_type=getattr(args, "g2p", None),
        )
        cleaner = getattr(args, "cleaner", None)
        self.cleaner = TextCleaner(cleaner) if cleaner else None  # the same text cleaning as in training
        self.converter = TokenIDConverter(token_list=self.token_list)
        self._build_normalizer(args, text_normalizer, text_normalizer_conf)
        self.known = set(self.token_list)
        self.vocoder = None
        if vocoder != "none":
            from espnet2_speecht5.vocoder import build_vocoder

            self.vocoder = build_vocoder(vocoder, vocoder_file, **(vocoder_conf or {}))
        self.speakers: Dict[str, np.ndarray] = read_speaker_table(speaker_table) if speaker_table else {}

    def _build_normalizer(self, args: Any, kind: Optional[str], conf: Optional[Dict[str, Any]]) -> None:
        """The text normaliser of the model's config (``english`` where an older config names none),
        unless ``kind`` / ``conf`` override it."""
        from espnet2_speecht5.text.normalize import DEFAULT_PAUSE_S, build_text_normalizer

        kind = kind if kind is not None else getattr(args, "text_normalizer", None) or "english"
        options = dict(getattr(args, "text_normalizer_conf", None) or {})
        options.update(conf or {})
        self.pause_s = float(options.pop("pause_s", DEFAULT_PAUSE_S))
        self.sentence_batch = int(options.pop("sentence_batch", 8))
        if self.pause_s < 0 or self.sentence_batch < 1:
            raise DataError(f"text_normalizer_conf: pause_s must be >= 0 and sentence_batch >= 1, got "
                            f"{self.pause_s} and {self.sentence_batch}")
        token_list = self.token_list if getattr(args, "token_type", "char") == "char" else []
        try:
            self.normalizer = build_text_normalizer(kind, token_list, **options)
        except (TypeError, ValueError) as err:
            raise DataError(f"text_normalizer {kind}: {err}") from None

    def normalize(self, text: str) -> str:
        """``text`` as the model reads it: normalised (numbers, symbols, ...), or as it is without a normaliser."""
        return self.normalizer(text) if self.normalizer is not None else text

    @classmethod
    def from_pretrained(
        cls, model_tag: Optional[str] = None, cache_dir: Optional[PathLike] = None, **kwargs: Any
    ) -> Text2Speech:
        """Build from a packed model: a stage-12 zip, an unpacked or exported folder, an http(s) URL,
        a Hugging Face id ``owner/name``, or a transformers SpeechT5ForTextToSpeech folder
        (converted once into the cache). The packed speaker table, if any, is loaded too.

        Args:
            cache_dir: where downloads and unpacked files go (default ``~/.cache/espnet2_speecht5``).
            kwargs: constructor options (``vocoder``, ``threshold``, ``device``, ...).
        """
        if not model_tag:
            return cls(**kwargs)
        from espnet2_speecht5.hub.resolve import converted_transformers, resolve

        resolved = resolve(model_tag, cache_dir)
        if resolved.layout == "transformers":
            files = converted_transformers(resolved.root, "tts", cache_dir)
        else:
            files = resolved.require("train_config", "model_file")
            tables = sorted(resolved.root.rglob(SPEAKER_TABLE_NAME))
            if tables and "speaker_table" not in kwargs:
                kwargs["speaker_table"] = str(tables[0])
        for key, value in files.items():
            kwargs.setdefault(key, value)
        for key, value in resolved.inference_options(inspect.signature(cls.__init__).parameters).items():
            kwargs.setdefault(key, value)
        return cls(**kwargs)

    def speaker_embedding(self, speaker: SpeakerInput = None) -> Optional[np.ndarray]:
        """(D,) x-vector for ``speaker``: a name from the packed table, a ``.npy`` file, or an array.

        None picks the table's first speaker (logged); a model without speaker input returns None.
        """
        if not self.model.use_speaker_embedding:
            return None
        if speaker is None:
            if not self.speakers:
                raise DataError("this model needs a speaker x-vector: pass speaker=<(512,) array or .npy file>")
            speaker = sorted(self.speakers)[0]
            logger.info(f"no speaker given: using '{speaker}' (the model knows {len(self.speakers)} speakers)")
        if isinstance(speaker, str) and speaker in self.speakers:
            return self.speakers[speaker]
        if isinstance(speaker, (str, Path)):
            path = Path(speaker)
            if path.suffix == ".npy" and path.is_file():
                return np.load(path, allow_pickle=False).astype(np.float32).reshape(-1)
            known = ", ".join(sorted(self.speakers)[:10]) or "none packed"
            raise DataError(f"unknown speaker '{speaker}': not a packed speaker name ({known}) "
                            "nor a .npy file")
        return np.asarray(speaker, dtype=np.float32).reshape(-1)

    def synthesize(self, text: str, speaker: SpeakerInput = None) -> np.ndarray:
        """One text of any length -> (N,) float32 waveform at :attr:`sample_rate`.

        With a normaliser (the default), the text is split into sentences (and pieces of at most
        ``max_chars``), each normalised and synthesised, ``sentence_batch`` at a time, and the pieces
        are joined with ``pause_s`` seconds of silence.

        Args:
            speaker: see :meth:`speaker_embedding`.
        """
        if self.vocoder is None:
            raise DataError("this Text2Speech was built with vocoder='none': it can only return mels")
        embedding = self.speaker_embedding(speaker)
        pieces = self.normalizer.sentences(text) if self.normalizer is not None else [text]
        if not pieces:
            raise DataError("empty text: nothing to synthesise")
        wavs: List[np.ndarray] = []
        for first in range(0, len(pieces), self.sentence_batch):
            batch = pieces[first : first + self.sentence_batch]
            spembs = None if embedding is None else np.repeat(embedding[None], len(batch), axis=0)
            keys = [f"sentence {first + i + 1}" for i in range(len(batch))]
            results = self(batch, spembs=spembs, keys=keys, normalized=self.normalizer is not None)
            wavs.extend(result.wav for result in results)
        if len(wavs) == 1:
            return wavs[0]
        logger.info("synthesised %d sentences of %d characters, joined with %.2f s pauses",
                    len(pieces), len(text), self.pause_s)
        pause = np.zeros(int(round(self.pause_s * self.sample_rate)), dtype=np.float32)
        joined: List[np.ndarray] = []
        for i, wav in enumerate(wavs):
            joined.extend([pause, wav] if i else [wav])
        return np.concatenate(joined).astype(np.float32)

    @property
    def sample_rate(self) -> int:
        return 16000

    @property
    def uses_speaker_embedding(self) -> bool:
        return self.model.use_speaker_embedding

    def token_ids(self, text: str, utt: Optional[str] = None, unknown: Optional[Set[str]] = None,
                  normalized: bool = False) -> List[int]:
        """Tokenise ``text`` (normalised first unless ``normalized``); tokens outside the token list
        become ``<unk>`` and are added to ``unknown``.

        Raises:
            DataError: the text is empty, or none of its tokens is in the token list.
        """
        if not normalized:
            text = self.normalize(text)
        if self.cleaner is not None:
            text = self.cleaner(text)
        tokens = self.tokenizer.text2tokens(text)
        if not tokens:
            raise DataError("empty text: nothing to synthesise", utt=utt)
        missing = {t for t in tokens if t not in self.known}
        if not any(t in self.known for t in tokens if t not in SPACE_TOKENS):
            shown = ", ".join(repr(t) for t in sorted(missing)[:10])
            raise DataError(f"no token of the text is in the model's token list ({shown}): it would be all <unk>",
                            utt=utt)
        if missing and unknown is not None:
            unknown.update(missing)
        return self.converter.tokens2ids(tokens)

    @torch.no_grad()
    def __call__(
        self,
        texts: Union[str, Sequence[str]],
        spembs: Optional[Union[np.ndarray, torch.Tensor]] = None,
        keys: Optional[Sequence[str]] = None,
        return_attention: bool = False,
        normalized: bool = False,
    ) -> List[SynthesisResult]:
        """Synthesise a batch.

        Args:
            texts: one text or a list of B texts.
            spembs: (B, 512) or (512,) x-vectors (required when the model uses them).
            keys: utterance names, for messages.
            return_attention: also return the cross-attention weights (for plots).
            normalized: the texts are normalised already (the pieces of :meth:`synthesize`).
        """
        if isinstance(texts, str):
            texts = [texts]
        keys = list(keys) if keys is not None else [f"#{i}" for i in range(len(texts))]
        unknown: Set[str] = set()
        ids = [self.token_ids(text, key, unknown, normalized) for text, key in zip(texts, keys)]
        if unknown:
            logger.warning(
                "characters outside the token list, synthesised as <unk>: %s",
                " ".join(repr(t) for t in sorted(unknown)),
            )
        lengths = torch.tensor([len(x) for x in ids], dtype=torch.long, device=self.device)
        text = torch.full((len(ids), int(lengths.max())), -1, dtype=torch.long, device=self.device)
        for row, x in enumerate(ids):
            text[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        speaker = None
        if self.model.use_speaker_embedding:
            if spembs is None:
                raise DataError("this model needs a speaker embedding (x-vector) per utterance")
            speaker = torch.as_tensor(np.asarray(spembs, dtype=np.float32), device=self.device)
            if speaker.dim() == 1:
                speaker = speaker[None].expand(len(ids), -1)
            expected = self.model.net.cfg.speaker_embedding_dim
            if speaker.shape != (len(ids), expected):
                raise DataError(
                    f"speaker embeddings of shape {tuple(speaker.shape)}; expected ({len(ids)}, {expected})"
                )
        torch.manual_seed(self.seed)
        out = self.model.synthesize(
            text,
            lengths,
            speaker,
            threshold=self.threshold,
            minlenratio=self.minlenratio,
            maxlenratio=self.maxlenratio,
            return_attention=return_attention,
        )
        results: List[SynthesisResult] = []
        r = self.model.reduction_factor
        for row in range(len(ids)):
            n = int(out.lengths[row])
            mel = out.mel[row, :n]
            wav = self.vocoder(mel).cpu().numpy() if self.vocoder is not None else None
            attention = None
            if out.attention is not None:
                attention = out.attention[:, row, :, : n // r, : len(ids[row])].cpu().numpy()
            results.append(SynthesisResult(mel.cpu().numpy(), wav, out.stop_probs[row, :n].cpu().numpy(), attention))
        return results
