"""One benchmark measurement in a fresh process: build one implementation of one case, warm it up
once, time the workload once, and print one JSON line (prefixed by ``BENCH_JSON``).

Usage (the orchestrator ``bench/run.py`` calls this; it can also be run by hand)::

    python bench/worker.py --prepare --weights /tmp/w --size base       # random transformers weights
    python bench/worker.py --case a --impl ours --weights /tmp/w --size base --threads 2

``--impl ours`` never imports transformers: it reads the transformers state dicts written by
``--prepare`` and ports them with :func:`espnet2_speecht5.checkpoint.hf_mapping.hf_to_ours`, so both
implementations hold the same weights and our process's memory holds only our code.

Reported: ``seconds`` (per part, ``total`` always), ``rss_before_mb`` (resident memory just before
the timed part), ``peak_rss_mb`` (peak resident memory during the timed part: the peak counter is
reset before it), ``rss_growth_mb`` (their difference), ``load_peak_rss_mb`` (the process's peak
before that, model building and warm-up included), ``flops`` of one training step (counted with
``torch.utils.flop_counter.FlopCounterMode`` during the warm-up step), on cuda ``peak_gpu_mb``
(``torch.cuda.max_memory_allocated`` during the timed part).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import torch
from workloads import (
    BASE,
    QUICK,
    Workload,
    ctc_weight_of,
    hf_config,
    hifigan_values,
    mel_targets,
    our_config,
    speaker_vectors,
    token_ids,
    variant_flags,
    waveforms,
)

MARKER = "BENCH_JSON "
WEIGHT_FILES = {"s2t": "s2t.safetensors", "t2s": "t2s.safetensors", "hifigan": "hifigan.safetensors"}


# ---------------------------------------------------------------------------------------- context
@dataclass
class Context:
    """What every case builder needs: sizes, device, where the weights are, and a seed."""

    work: Workload
    device: torch.device
    weights: Path
    seed: int = 0
    bf16: bool = False  # bf16 autocast on the CPU too (variant flag ``bf16``)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on cuda, and on cpu with the ``bf16`` flag; nothing otherwise (fp32)."""
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if self.bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def to(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device)

    def state(self, kind: str) -> Dict[str, torch.Tensor]:
        """The transformers state dict written by ``--prepare`` for ``kind`` (s2t, t2s, hifigan)."""
        from espnet2_speecht5.checkpoint.io import load_checkpoint

        return load_checkpoint(self.weights / WEIGHT_FILES[kind])


class Clock:
    """Wall-clock laps with device synchronisation: ``lap(name)`` records the seconds since the last lap."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.parts: Dict[str, float] = {}
        ctx.sync()
        self.start = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        self.ctx.sync()
        now = time.perf_counter()
        self.parts[name] = now - self.last
        self.last = now

    def done(self) -> Dict[str, float]:
        self.parts["total"] = self.last - self.start
        return self.parts


@dataclass
class Bench:
    """A built case: ``step()`` runs the workload once and returns its seconds per part (``total`` included).

    count_flops: count the FLOPs of the warm-up step (training cases). extra: measured once after the
    timed step (for example our TTS feature extraction on its own); info: facts about the workload.
    """

    step: Callable[[], Dict[str, float]]
    count_flops: bool = False
    extra: Optional[Callable[[], Dict[str, float]]] = None
    info: Dict[str, Any] = field(default_factory=dict)


def check(condition: bool, message: str) -> None:
    """Workload sanity checks that must hold in every run (not only under ``python -O``)."""
    if not condition:
        raise RuntimeError(message)


# ---------------------------------------------------------------------------------------- our models
def our_s2t(ctx: Context) -> torch.nn.Module:
    """Our SpeechToText network holding the prepared transformers weights (eval mode)."""
    from espnet2_speecht5.checkpoint.hf_mapping import hf_to_ours
    from espnet2_speecht5.nets.compositions import SpeechToText

    cfg = our_config(ctx.work.size)
    net = SpeechToText(cfg)
    state, unknown = hf_to_ours(ctx.state("s2t"), cfg)
    check(not unknown, f"unported keys: {unknown[:5]}")
    net.load_state_dict(state, strict=True)
    return net.eval().to(ctx.device)


def our_asr_model(ctx: Context, ctc_weight: float, recompute: bool = True) -> torch.nn.Module:
    """Our ESPnet ASR model around the same network (vocabulary = transformers' 81 ids; random CTC head)."""
    from espnet2_speecht5.checkpoint.hf_mapping import hf_to_ours
    from espnet2_speecht5.models.asr import SpeechT5ASRModel

    cfg = our_config(ctx.work.size, recompute)
    torch.manual_seed(ctx.seed)
    model = SpeechT5ASRModel(cfg.vocab_size, None, cfg, ctc_weight=ctc_weight)
    state, unknown = hf_to_ours(ctx.state("s2t"), model.net.cfg)
    check(not unknown, f"unported keys: {unknown[:5]}")
    model.net.load_state_dict(state, strict=True)
    return model.to(ctx.device)


def our_t2s(ctx: Context) -> torch.nn.Module:
    from espnet2_speecht5.checkpoint.hf_mapping import hf_to_ours
    from espnet2_speecht5.nets.compositions import TextToSpeech

    cfg = our_config(ctx.work.size)
    net = TextToSpeech(cfg)
    state, unknown = hf_to_ours(ctx.state("t2s"), cfg)
    check(not unknown, f"unported keys: {unknown[:5]}")
    net.load_state_dict(state, strict=True)
    return net.eval().to(ctx.device)


def our_vocoder(ctx: Context) -> torch.nn.Module:
    """Our HiFi-GAN generator with the prepared transformers weights."""
    from espnet2_speecht5.vocoder.hifigan import HifiGanConfig, HifiGanGenerator
    from espnet2_speecht5.vocoder.loading import fill_generator, transformers_layer_map

    config = HifiGanConfig.from_transformers(hifigan_values(ctx.work.size))
    state = ctx.state("hifigan")
    path = ctx.weights / WEIGHT_FILES["hifigan"]
    gen = fill_generator(HifiGanGenerator(config), state, transformers_layer_map(config), state["mean"],
                         state["scale"], path)
    return gen.eval().to(ctx.device)


def our_tts_model(ctx: Context) -> torch.nn.Module:
    from espnet2_speecht5.checkpoint.hf_mapping import hf_to_ours
    from espnet2_speecht5.models.tts import SpeechT5TTSModel

    cfg = our_config(ctx.work.size)
    torch.manual_seed(ctx.seed)
    model = SpeechT5TTSModel(cfg.vocab_size, None, cfg)
    state, unknown = hf_to_ours(ctx.state("t2s"), model.net.cfg)
    check(not unknown, f"unported keys: {unknown[:5]}")
    model.net.load_state_dict(state, strict=True)
    return model.to(ctx.device)


# ---------------------------------------------------------------------------------------- reference models
def ref_model(ctx: Context, kind: str) -> torch.nn.Module:
    """transformers' SpeechT5ForSpeechToText / ForTextToSpeech / SpeechT5HifiGan with the prepared weights."""
    import transformers

    if kind == "hifigan":
        model = transformers.SpeechT5HifiGan(transformers.SpeechT5HifiGanConfig(**hifigan_values(ctx.work.size)))
    else:
        cls = transformers.SpeechT5ForSpeechToText if kind == "s2t" else transformers.SpeechT5ForTextToSpeech
        model = cls(hf_config(ctx.work.size, kind))
    model.load_state_dict(ctx.state(kind), strict=True)
    return model.eval().to(ctx.device)


# ---------------------------------------------------------------------------------------- cases
def forbid_eos_scorer(eos: int, vocab: int) -> Any:
    """An ESPnet full scorer giving ``eos`` -inf (0 elsewhere): the beam keeps all hypotheses running
    until the length limit, as transformers' ``min_new_tokens`` does. Not part of our package."""
    from espnet.nets.scorer_interface import BatchScorerInterface

    class ForbidEos(BatchScorerInterface):
        def score(self, y: torch.Tensor, state: Any, x: torch.Tensor):
            out = x.new_zeros(vocab)
            out[eos] = float("-inf")
            return out, None

        def batch_score(self, ys: torch.Tensor, states: List[Any], xs: torch.Tensor):
            out = xs.new_zeros(ys.size(0), vocab)
            out[:, eos] = float("-inf")
            return out, None

    return ForbidEos()


def int8_ours(net: torch.nn.Module) -> torch.nn.Module:
    """Our int8 inference: every linear layer an ``Int8DynamicLinear`` (``--quantize_model``)."""
    from espnet2_speecht5.nets.int8_linear import quantize_linear_layers

    check(quantize_linear_layers(net) > 0, "no linear layer was quantised")
    return net


def int8_ref(model: torch.nn.Module) -> torch.nn.Module:
    """The reference with torch's own dynamic int8 quantisation of its linear layers (deprecated in
    torch, but what a transformers user on the CPU would reach for)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def case_a(ctx: Context, impl: str, variant: str) -> Bench:
    """ASR greedy decoding of exactly ``asr_tokens`` tokens from one utterance.

    Extras, measured after the timed run: ``encoder`` (the encoder alone, so that the decoding
    loop's share is known) and, for ours, ``weights floor``: ``asr_tokens`` times the best of five
    passes of batch-1 products over every weight matrix that one decoding step must read (see
    :func:`decoder_step_weights`). No implementation can decode faster than that floor in fp32.
    """
    n = ctx.work.asr_tokens
    wav = ctx.to(waveforms(1, ctx.work.audio_samples, ctx.seed + 1))
    if impl == "ours":
        from espnet2_speecht5.search.greedy import greedy_speech_to_text

        net = our_s2t(ctx)
        weights = decoder_step_weights(net)
        if "int8" in variant_flags(variant):
            net, weights = int8_ours(net), []
        bf16_encoder = "bf16enc" in variant_flags(variant)

        def run() -> torch.Tensor:
            return greedy_speech_to_text(net, wav, max_len=n + 1, min_len=n + 1, bf16_encoder=bf16_encoder)

        def encode() -> Any:
            with torch.autocast(device_type=wav.device.type, dtype=torch.bfloat16, enabled=bf16_encoder):
                return net.encode(wav)
    else:
        hf = ref_model(ctx, "s2t")
        weights = []
        if "int8" in variant_flags(variant):
            hf = int8_ref(hf)

        def run() -> torch.Tensor:
            return hf.generate(wav, num_beams=1, do_sample=False, min_new_tokens=n, max_new_tokens=n)

        def encode() -> Any:
            return hf.get_encoder()(input_values=wav)

    def step() -> Dict[str, float]:
        clock = Clock(ctx)
        with torch.no_grad(), ctx.autocast():
            tokens = run()
        clock.lap("decode")
        check(tokens.shape == (1, n + 1), f"expected {n} tokens after the start token, got {tuple(tokens.shape)}")
        return clock.done()

    def extra() -> Dict[str, float]:
        clock = Clock(ctx)
        with torch.no_grad(), ctx.autocast():
            encode()
        clock.lap("encoder")
        out = {"encoder": clock.parts["encoder"]}
        if weights:
            out["weights floor"] = n * weights_pass_seconds(ctx, weights)
        return out

    info = {"units": n, "unit": "tokens", "step_weight_mb": sum(w.numel() * w.element_size() for w in weights) / 1e6}
    return Bench(step, extra=extra, info=info)


def decoder_step_weights(net: torch.nn.Module) -> List[torch.Tensor]:
    """The weight matrices one cached decoding step multiplies with: every linear layer of the decoder
    except the cross-attention key/value projections (computed once per utterance), plus the output
    projection. Shapes (out, in)."""
    out = []
    for name, module in net.decoder.named_modules():
        if isinstance(module, torch.nn.Linear) and not name.endswith(("cross_attn.k_proj", "cross_attn.v_proj")):
            out.append(module.weight.detach())
    head = net.text_decoder_postnet.lm_head
    out.append((head if head is not None else net.text_decoder_prenet.embed_tokens.weight).detach())
    return out


def weights_pass_seconds(ctx: Context, weights: List[torch.Tensor], repeats: int = 5) -> float:
    """Best of ``repeats`` times of one batch-1 product with every matrix in ``weights``."""
    inputs = [torch.randn(1, w.size(1), device=w.device, dtype=w.dtype) for w in weights]
    best = math.inf
    with torch.no_grad():
        for _ in range(repeats + 1):
            clock = Clock(ctx)
            for w, x in zip(weights, inputs):
                torch.nn.functional.linear(x, w)
            clock.lap("pass")
            best = min(best, clock.parts["pass"])
    return best


def case_b(ctx: Context, impl: str, variant: str) -> Bench:
    """ASR beam search (beam ``beam``) of exactly ``asr_tokens`` tokens; ours with ESPnet's BatchBeamSearch."""
    n, beam = ctx.work.asr_tokens, ctx.work.beam
    wav = ctx.to(waveforms(1, ctx.work.audio_samples, ctx.seed + 1))
    if impl == "ours":
        search, model = our_beam_search(ctx, ctc_weight_of(variant))
        lengths = torch.tensor([wav.size(1)], device=ctx.device)

        def run() -> int:
            enc, _ = model.encode(wav, lengths)
            # Negative ratios are absolute lengths in ESPnet. Step i (0-based) adds token i + 1; at
            # i == maxlen - 1 the search appends eos and keeps the hypothesis only if i >= minlen
            # (beam_search.py post_process): maxlen = n and minlen = n - 1 end every hypothesis
            # at exactly n tokens; the forbid_eos scorer keeps all of them running until then.
            hyps = search(x=enc.hidden[0], maxlenratio=-float(n), minlenratio=-float(n - 1))
            return len(hyps[0].yseq) - 2  # without sos and eos
    else:
        hf = ref_model(ctx, "s2t")

        def run() -> int:
            out = hf.generate(wav, num_beams=beam, do_sample=False, min_new_tokens=n, max_new_tokens=n)
            return out.size(1) - 1

    def step() -> Dict[str, float]:
        clock = Clock(ctx)
        with torch.no_grad(), ctx.autocast():
            produced = run()
        clock.lap("decode")
        check(produced == n, f"expected {n} tokens, got {produced}")
        return clock.done()

    return Bench(step, info={"units": n, "unit": "tokens"})


def our_beam_search(ctx: Context, ctc_weight: float):
    """ESPnet's BatchBeamSearch set up as Speech2Text does (decoder, optional CTC prefix scorer,
    length bonus with penalty 0), plus the eos-forbidding scorer; returns (search, model)."""
    from espnet.nets.batch_beam_search import BatchBeamSearch
    from espnet.nets.scorers.length_bonus import LengthBonus

    from espnet2_speecht5.search.asr_scorer import SpeechT5DecoderScorer
    from espnet2_speecht5.search.ctc_prefix_scorer import ScanCTCPrefixScorer

    model = our_asr_model(ctx, ctc_weight).eval()
    vocab = model.vocab_size
    scorers: Dict[str, Any] = dict(
        decoder=SpeechT5DecoderScorer(model),
        length_bonus=LengthBonus(vocab),
        forbid_eos=forbid_eos_scorer(model.eos, vocab),
    )
    weights = dict(decoder=1.0 - ctc_weight, length_bonus=0.0, forbid_eos=1.0)
    if ctc_weight > 0:
        scorers["ctc"] = ScanCTCPrefixScorer(ctc=model.ctc, eos=model.eos)
        weights["ctc"] = ctc_weight
    search = BatchBeamSearch(
        scorers=scorers,
        weights=weights,
        beam_size=ctx.work.beam,
        vocab_size=vocab,
        sos=model.sos,
        eos=model.eos,
        token_list=None,
        pre_beam_score_key="full",
    )
    search.to(ctx.device).eval()
    return search, model


def case_f(ctx: Context, impl: str, variant: str) -> Bench:
    """A test set decoded: ``testset_utts`` utterances, beam ``beam``, each hypothesis forced to
    ``testset_tokens`` tokens (decoder only, as the reference). Ours: every utterance encoded alone,
    then one utterance-batched beam search over all of them (``Speech2Text.batch``); the reference:
    ``generate`` over length-sorted padded batches, at each batch size of ``testset_batches`` (the
    fastest counts: ``total`` is the best of them). The warm-up call runs two utterances only."""
    work = ctx.work
    n, beam = work.testset_tokens, work.beam
    lengths = work.testset_samples()
    waves = [ctx.to(waveforms(1, samples, ctx.seed + 20 + i))[0] for i, samples in enumerate(lengths)]
    calls = {"count": 0}
    if impl == "ours":
        from espnet2_speecht5.search.utterance_batch_beam_search import UtteranceBatchBeamSearch

        model = our_asr_model(ctx, 0.0).eval()
        if "int8" in variant_flags(variant):
            int8_ours(model)

        class ForcedLength(UtteranceBatchBeamSearch):
            """Bench only: eos is never chosen, so every hypothesis runs to the length limit."""

            def _full_scores(self, enc, yseq, cache):
                weighted, dec = super()._full_scores(enc, yseq, cache)
                weighted[:, self.eos] = float("-inf")
                return weighted, dec

        search = ForcedLength(model, beam, ctc_weight=0.0)

        def run(batch: List[torch.Tensor]) -> Dict[str, float]:
            clock = Clock(ctx)
            hidden = [model.encode(w[None], torch.tensor([w.numel()], device=ctx.device))[0].hidden[0] for w in batch]
            clock.lap("encoder")
            padded = torch.nn.utils.rnn.pad_sequence(hidden, batch_first=True)
            found = search(padded, torch.tensor([h.size(0) for h in hidden]), maxlenratio=-float(n),
                           minlenratio=-float(n - 1))
            clock.lap("search")
            produced = {len(hyps[0].yseq) - 2 for hyps in found}
            check(produced == {n}, f"expected {n} tokens per utterance, got {sorted(produced)}")
            return clock.done()
    else:
        hf = ref_model(ctx, "s2t")
        if "int8" in variant_flags(variant):
            hf = int8_ref(hf)

        def generate(batch: List[torch.Tensor]) -> None:
            wav = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True)
            mask = torch.zeros(wav.shape, dtype=torch.long, device=ctx.device)
            for row, w in enumerate(batch):
                mask[row, : w.numel()] = 1
            out = hf.generate(wav, attention_mask=mask, num_beams=beam, do_sample=False, min_new_tokens=n,
                              max_new_tokens=n)
            check(out.size(1) == n + 1, f"expected {n} tokens, got {out.size(1) - 1}")

        def run(batch: List[torch.Tensor]) -> Dict[str, float]:
            ordered = sorted(batch, key=lambda w: w.numel())
            parts: Dict[str, float] = {}
            for size in work.testset_batches:
                clock = Clock(ctx)
                for start in range(0, len(ordered), size):
                    generate(ordered[start : start + size])
                clock.lap(f"batch {size}")
                parts.update(clock.parts)
            parts["total"] = min(parts.values())
            return parts

    def step() -> Dict[str, float]:
        calls["count"] += 1
        with torch.no_grad(), ctx.autocast():
            return run(waves[:2] if calls["count"] == 1 else waves)

    units = len(waves) * n
    return Bench(step, info={"units": units, "unit": "tokens", "utterances": len(waves),
                             "audio_seconds": sum(lengths) / 16000})


def case_c(ctx: Context, impl: str, variant: str) -> Bench:
    """TTS: ``tts_chars`` characters -> exactly ``tts_frames`` mel frames, then the HiFi-GAN vocoder."""
    frames = ctx.work.tts_frames
    cfg = our_config(ctx.work.size)
    steps = frames // cfg.reduction_factor
    chars = ctx.work.tts_chars
    ids = ctx.to(token_ids(1, chars, cfg.vocab_size, ctx.seed + 2))
    spk = ctx.to(speaker_vectors(1, cfg.speaker_embedding_dim, ctx.seed + 3))
    if impl == "ours":
        from espnet2_speecht5.search.greedy import generate_speech

        net, vocoder = our_t2s(ctx), our_vocoder(ctx)
        if "int8" in variant_flags(variant):
            net = int8_ours(net)

        def generate() -> torch.Tensor:
            out = generate_speech(net, net.encode(ids), spk, fixed_steps=steps)
            return out.mel[0]
    else:
        hf, vocoder = ref_model(ctx, "t2s"), ref_model(ctx, "hifigan")
        if "int8" in variant_flags(variant):
            hf = int8_ref(hf)
        # transformers' rule: steps = int(S * ratio / r); half a step of slack keeps float rounding off.
        ratio = (steps + 0.5) * cfg.reduction_factor / chars

        def generate() -> torch.Tensor:
            return hf.generate_speech(ids, spk, threshold=0.5, minlenratio=ratio, maxlenratio=ratio)

    def step() -> Dict[str, float]:
        clock = Clock(ctx)
        with torch.no_grad(), ctx.autocast():
            mel = generate()
            clock.lap("generate")
            wav = vocoder(mel)
            clock.lap("vocoder")
        check(tuple(mel.shape) == (frames, cfg.num_mel_bins), f"expected {frames} frames, got {tuple(mel.shape)}")
        check(wav.numel() > 0, "the vocoder returned nothing")
        return clock.done()

    return Bench(step, info={"units": frames, "unit": "mel frames"})


def training_step(ctx: Context, model: torch.nn.Module, loss_fn: Callable[[], torch.Tensor]) -> Callable:
    """forward (autocast on cuda) + backward + AdamW step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> Dict[str, float]:
        clock = Clock(ctx)
        optimizer.zero_grad(set_to_none=True)
        with ctx.autocast():
            loss = loss_fn()
        clock.lap("forward")
        loss.backward()
        clock.lap("backward")
        optimizer.step()
        clock.lap("optimizer")
        check(bool(torch.isfinite(loss.detach()).all()), "the loss is not finite")
        return clock.done()

    return step


def case_d(ctx: Context, impl: str, variant: str) -> Bench:
    """Speech-to-text training step: batch ``train_batch`` x ``audio_seconds``, ``train_label_tokens`` labels."""
    work = ctx.work
    cfg = our_config(work.size)
    batch, labels = work.train_batch, work.train_label_tokens
    wav = ctx.to(waveforms(batch, work.audio_samples, ctx.seed + 4))
    text = ctx.to(token_ids(batch, labels, cfg.vocab_size, ctx.seed + 5))
    if impl == "ours":
        model = our_asr_model(ctx, ctc_weight_of(variant), "keep" not in variant_flags(variant)).train()
        wav_lengths = torch.full((batch,), wav.size(1), dtype=torch.long, device=ctx.device)
        text_lengths = torch.full((batch,), labels, dtype=torch.long, device=ctx.device)

        def loss_fn() -> torch.Tensor:
            return model(wav, wav_lengths, text, text_lengths)[0]
    else:
        model = ref_model(ctx, "s2t").train()
        mask = torch.ones_like(wav, dtype=torch.long)
        # Our model appends eos to the targets; give the reference the same labels + eos.
        eos = torch.full((batch, 1), model.config.eos_token_id, dtype=torch.long, device=ctx.device)
        hf_labels = torch.cat([text, eos], dim=1)

        def loss_fn() -> torch.Tensor:
            return model(input_values=wav, attention_mask=mask, labels=hf_labels).loss

    units = batch * labels
    return Bench(training_step(ctx, model, loss_fn), count_flops=True, info={"units": units, "unit": "label tokens"})


def case_e(ctx: Context, impl: str, variant: str) -> Bench:
    """TTS training step: batch ``train_batch`` x ``tts_chars`` characters -> ``tts_frames`` frames."""
    work = ctx.work
    cfg = our_config(work.size)
    batch, chars, frames = work.train_batch, work.tts_chars, work.tts_frames
    ids = ctx.to(token_ids(batch, chars, cfg.vocab_size, ctx.seed + 6))
    spk = ctx.to(speaker_vectors(batch, cfg.speaker_embedding_dim, ctx.seed + 7))
    extra = None
    if impl == "ours":
        # Our model computes its log-mel targets from the waveform: give it a waveform of exactly
        # `frames` frames, and time that feature extraction on its own as well (`extra`).
        model = our_tts_model(ctx).train()
        wav = ctx.to(waveforms(batch, work.tts_wave_samples, ctx.seed + 8))
        wav_lengths = torch.full((batch,), wav.size(1), dtype=torch.long, device=ctx.device)
        text_lengths = torch.full((batch,), chars, dtype=torch.long, device=ctx.device)
        feats, _ = model.mel(wav, wav_lengths)
        check(feats.size(1) == frames, f"the waveform gives {feats.size(1)} frames, expected {frames}")

        def loss_fn() -> torch.Tensor:
            return model(ids, text_lengths, wav, wav_lengths, spembs=spk)[0]

        def extra() -> Dict[str, float]:
            clock = Clock(ctx)
            with ctx.autocast():
                model.mel(wav, wav_lengths)
            clock.lap("features")
            return {"features": clock.parts["features"]}
    else:
        model = ref_model(ctx, "t2s").train()
        mel = ctx.to(mel_targets(batch, frames, cfg.num_mel_bins, ctx.seed + 9))
        mask = torch.ones_like(ids)

        def loss_fn() -> torch.Tensor:
            return model(input_ids=ids, attention_mask=mask, labels=mel, speaker_embeddings=spk).loss

    units = batch * frames
    step = training_step(ctx, model, loss_fn)
    return Bench(step, count_flops=True, extra=extra, info={"units": units, "unit": "mel frames"})


def case_g(ctx: Context, impl: str, variant: str) -> Bench:
    """The matmul probe: n x n @ n x n (fp32 on cpu, bf16 on cuda or with the ``bf16`` flag), best of 5."""
    n = ctx.work.matmul_n
    dtype = torch.bfloat16 if ctx.cuda or ctx.bf16 else torch.float32
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(ctx.seed)).to(ctx.device, dtype)
    b = torch.randn(n, n, generator=torch.Generator().manual_seed(ctx.seed + 1)).to(ctx.device, dtype)
    flops = 2.0 * n**3

    def step() -> Dict[str, float]:
        times = []
        for _ in range(5):
            clock = Clock(ctx)
            torch.mm(a, b)
            clock.lap("mm")
            times.append(clock.parts["mm"])
        best = min(times)
        return {"total": best, "best": best}

    return Bench(step, info={"probe_flops": flops, "dtype": str(dtype).replace("torch.", "")})


CASES: Dict[str, Callable[[Context, str, str], Bench]] = {
    "a": case_a,
    "b": case_b,
    "c": case_c,
    "d": case_d,
    "e": case_e,
    "f": case_f,
    "g": case_g,
}


# ---------------------------------------------------------------------------------------- memory
def _status_kb(field_name: str) -> Optional[float]:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Current resident set size in MB (ru_maxrss where /proc is missing)."""
    kb = _status_kb("VmRSS")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def max_rss_mb() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MB (kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ``clear_refs`` 5); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------- measurement
def cpu_attention_formulas() -> Dict[Any, Callable]:
    """FLOP formulas for the CPU flash-attention kernels of ``scaled_dot_product_attention``, which
    torch's FlopCounterMode does not know (it counts them as 0); the same counts as its cuda kernels."""
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    def forward(query, key, value, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query, key, value)

    def backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
        return sdpa_backward_flop_count(grad_out, query, key, value)

    aten = torch.ops.aten
    return {
        aten._scaled_dot_product_flash_attention_for_cpu: forward,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: backward,
    }


def count_flops(step: Callable[[], Dict[str, float]]) -> float:
    """Run ``step`` once under FlopCounterMode; return its total FLOPs (forward + backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=cpu_attention_formulas()) as counter:
        step()
    return float(counter.get_total_flops())


def measure(bench: Bench, ctx: Context) -> Dict[str, Any]:
    """Warm up once (counting FLOPs there for training cases), then time one run with memory counters."""
    flops = count_flops(bench.step) if bench.count_flops else None
    if not bench.count_flops:
        bench.step()
    load_peak = max_rss_mb()
    before = rss_mb()
    reset_ok = reset_peak_rss()
    if ctx.cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    seconds = bench.step()
    peak = max_rss_mb() if reset_ok else max(load_peak, max_rss_mb())
    result: Dict[str, Any] = {
        "seconds": seconds,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "rss_growth_mb": max(0.0, peak - before),
        "load_peak_rss_mb": load_peak,
        "peak_reset": reset_ok,
        "flops": flops,
        "info": bench.info,
    }
    if ctx.cuda:
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated(ctx.device) / 2**20
    if bench.extra is not None:
        result["extra_seconds"] = bench.extra()
    return result


# ---------------------------------------------------------------------------------------- prepare
def prepare(work: Workload, weights: Path, seed: int) -> Dict[str, Any]:
    """Build random transformers models (seeded) and save their state dicts for both implementations."""
    import transformers

    from espnet2_speecht5.checkpoint.io import save_safetensors

    weights.mkdir(parents=True, exist_ok=True)
    vocoder_config = transformers.SpeechT5HifiGanConfig(**hifigan_values(work.size))
    builders = {
        "s2t": lambda: transformers.SpeechT5ForSpeechToText(hf_config(work.size, "s2t")),
        "t2s": lambda: transformers.SpeechT5ForTextToSpeech(hf_config(work.size, "t2s")),
        "hifigan": lambda: transformers.SpeechT5HifiGan(vocoder_config),
    }
    sizes = {}
    for index, (kind, build) in enumerate(builders.items()):
        torch.manual_seed(seed + index)
        model = build().eval()
        save_safetensors(model.state_dict(), weights / WEIGHT_FILES[kind])
        sizes[kind] = sum(p.numel() for p in model.parameters())
    device_name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return {"parameters": sizes, "device_name": device_name}


# ---------------------------------------------------------------------------------------- CLI
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", action="store_true", help="write the random transformers weights and exit")
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--impl", choices=("ours", "ref", "probe"))
    parser.add_argument("--variant", default="",
                        help="flags joined by +: ctc0 / ctc0.3 (ours, cases b, d), int8 (a, c, f), bf16 (d, e, g), "
                             "bf16enc (ours, a: the encoder under bf16 autocast)")
    parser.add_argument("--size", choices=("base", "tiny"), default="base", help="tiny = the --quick workload")
    parser.add_argument("--weights", type=Path, required=True, help="folder of the prepared weights")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.prepare and (args.case is None or args.impl is None):
        parser.error("--case and --impl are required (or --prepare)")
    return args


def build_context(args: argparse.Namespace) -> Context:
    torch.set_num_threads(args.threads)
    work = BASE if args.size == "base" else QUICK
    return Context(work, torch.device(args.device), args.weights, args.seed, bf16="bf16" in variant_flags(args.variant))


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send library prints to stderr, so stdout carries only the JSON line."""
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    ctx = build_context(args)
    with quiet_stdout():
        if args.prepare:
            result = prepare(ctx.work, args.weights, args.seed)
        else:
            torch.manual_seed(args.seed)
            bench = CASES[args.case](ctx, args.impl, args.variant)
            result = measure(bench, ctx)
            result.update(case=args.case, impl=args.impl, variant=args.variant)
        result.update(threads=torch.get_num_threads(), device=str(ctx.device), pid=os.getpid())
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
