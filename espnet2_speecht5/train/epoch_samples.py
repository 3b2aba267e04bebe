"""Early warnings of a broken run: after each validation, three fixed utterances decoded, and trend checks.

A run that has collapsed (the same hypothesis for every input, or a stop token that never fires)
can look healthy in the loss curves for many epochs. After each epoch's validation, on the writing
rank, :func:`log_epoch_samples` takes the first three utterances of the validation data (ESPnet's
validation batches do not shuffle, so they are the same every epoch) and logs:

* text output (ASR, ST): the greedy hypothesis beside the reference, ``hyp | ref``;
* speech output (TTS, VC, SE): the generated length and the step where the stop token fired, beside
  the target's length.

Then one warning line when every hypothesis of the three is identical while the references are
not (a collapsed decoder), or when every generated utterance ran to the length limit (the stop
token never fired). :class:`TrendWatch` warns when the training loss has fallen over the last
``patience`` epochs while the validation accuracy (the validation loss for models without one)
has not improved on its best before them: learning that does not generalise, or a broken
validation set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch

logger = logging.getLogger(__name__)

NUM_SAMPLES = 3
SPACE_TOKENS = ("<space>", "\u2581")


class FirstBatchCapture:
    """Wraps a validation iterator of ``(keys, batch)`` and keeps the first ``NUM_SAMPLES`` utterances
    of its first batch (tensors sliced to those rows, on the CPU)."""

    def __init__(self, iterator: Iterable[Tuple[List[str], Dict[str, Any]]]) -> None:
        self.iterator = iterator
        self.keys: List[str] = []
        self.batch: Dict[str, torch.Tensor] = {}

    def __iter__(self) -> Iterator[Tuple[List[str], Dict[str, Any]]]:
        for keys, batch in self.iterator:
            if not self.keys and isinstance(batch, dict):
                rows = min(NUM_SAMPLES, len(keys))
                self.keys = list(keys[:rows])
                self.batch = {k: v[:rows].detach().cpu() for k, v in batch.items() if isinstance(v, torch.Tensor)}
            yield keys, batch


def tokens_to_text(tokens: Sequence[str]) -> str:
    """Tokens -> text: ``<space>`` and sentencepiece's ``▁`` become spaces, special tokens are left out."""
    out = []
    for token in tokens:
        if token in SPACE_TOKENS:
            out.append(" ")
        elif token.startswith("<") and token.endswith(">"):
            continue
        else:
            out.append(token.replace("\u2581", " "))
    return " ".join("".join(out).split())


@torch.no_grad()
def text_samples(model: Any, batch: Dict[str, torch.Tensor]) -> List[Tuple[str, str]]:
    """(hypothesis, reference) per utterance: greedy decoding with the model's teacher-forced decoder."""
    device = next(model.parameters()).device
    speech = batch["speech"].to(device)
    enc, _ = model.encode(speech, batch["speech_lengths"].to(device))
    text, lengths = batch["text"], batch["text_lengths"]
    steps = int(lengths.max()) * 2 + 5
    prev = torch.full((speech.size(0), 1), model.sos, dtype=torch.long, device=device)
    done = torch.zeros(speech.size(0), dtype=torch.bool, device=device)
    for _ in range(steps):
        logits, _ = model.decoder_logits(enc, prev)
        best = logits[:, -1].argmax(dim=-1)
        best = torch.where(done, torch.full_like(best, model.eos), best)
        prev = torch.cat([prev, best[:, None]], dim=1)
        done |= best.eq(model.eos)
        if bool(done.all()):
            break
    tokens = model.token_list
    pairs = []
    for row in range(speech.size(0)):
        hyp = [int(i) for i in prev[row, 1:].tolist()]
        hyp = hyp[: hyp.index(model.eos)] if model.eos in hyp else hyp
        ref = [int(i) for i in text[row, : int(lengths[row])].tolist()]
        pairs.append((tokens_to_text([tokens[i] for i in hyp]), tokens_to_text([tokens[i] for i in ref])))
    return pairs


@dataclass
class SpeechSample:
    """One generated utterance: frames generated, whether the stop token ended it (False: the length
    limit did), the target's frames."""

    frames: int
    stopped: bool
    target_frames: int


@torch.no_grad()
def speech_samples(model: Any, batch: Dict[str, torch.Tensor], limit_ratio: float = 3.0) -> List[SpeechSample]:
    """Greedy generation for TTS (``text`` in), VC (``speech_tgt`` out) and SE (``speech_clean`` out)
    batches, each row alone (no padding), for at most ``limit_ratio`` times the target's length."""
    from espnet2_speecht5.search.greedy import generate_speech

    device = next(model.parameters()).device
    target_name = "speech_clean" if "speech_clean" in batch else "speech_tgt" if "speech_tgt" in batch else "speech"
    samples = []
    for row in range(batch[target_name].size(0)):
        length = batch[f"{target_name}_lengths"][row : row + 1].to(device)
        _, target_frames = model.mel(batch[target_name][row : row + 1, : int(length)].to(device), length)
        target = int(target_frames[0])
        if "text" in batch:  # TTS: text in, speech out
            n = batch["text_lengths"][row : row + 1].to(device)
            tokens, _ = model.net_tokens(batch["text"][row : row + 1, : int(n)].to(device), n)
            enc = model.net.encode(tokens, None)
        else:  # VC, SE: speech in
            n = int(batch["speech_lengths"][row])
            enc = model.net.encode(batch["speech"][row : row + 1, :n].to(device), None)
        spembs = batch["spembs"][row : row + 1].to(device) if "spembs" in batch else None
        limit = max(1, int(target * limit_ratio) // model.reduction_factor)  # decoder steps
        out = generate_speech(model.net, enc, model.speaker(spembs),
                              maxlenratio=limit * model.reduction_factor / enc.hidden.size(1) + 1e-6)
        frames = int(out.lengths[0])
        stopped = frames < limit * model.reduction_factor  # it ended before the limit: the stop token fired
        samples.append(SpeechSample(frames, stopped, target))
    return samples


def describe_samples(model: Any, keys: Sequence[str], batch: Dict[str, torch.Tensor]) -> Tuple[List[str], List[str]]:
    """(log lines, warning lines) for the captured validation utterances of one epoch."""
    lines: List[str] = []
    warnings: List[str] = []
    if "text" in batch and hasattr(model, "decoder_logits"):
        pairs = text_samples(model, batch)
        for key, (hyp, ref) in zip(keys, pairs):
            lines.append(f"{key}: hyp '{hyp}' | ref '{ref}'")
        hyps = {hyp for hyp, _ in pairs}
        if len(pairs) > 1 and len(hyps) == 1 and len({ref for _, ref in pairs}) > 1:
            warnings.append(f"every one of the {len(pairs)} sample hypotheses is '{pairs[0][0]}' although the "
                            "references differ: the decoder may have collapsed (it ignores its input)")
    elif hasattr(model, "reduction_factor") and hasattr(model, "mel"):
        samples = speech_samples(model, batch)
        for key, sample in zip(keys, samples):
            stop = f"stop at frame {sample.frames}" if sample.stopped else "no stop (length limit)"
            lines.append(f"{key}: generated {sample.frames} frames, {stop}; target {sample.target_frames} frames")
        if samples and not any(sample.stopped for sample in samples):
            warnings.append(f"none of the {len(samples)} sample utterances stopped before 3 times its target "
                            "length: the stop token is not learned yet (or has collapsed)")
    return lines, warnings


def log_epoch_samples(model: Any, capture: FirstBatchCapture, epoch: Any) -> None:
    """Log the samples of :func:`describe_samples` (and its warnings); a failure is a warning, not a stop."""
    if not capture.keys:
        return
    model = getattr(model, "module", model)  # DistributedDataParallel
    was_training = model.training
    model.eval()
    try:
        lines, warnings = describe_samples(model, capture.keys, capture.batch)
    except Exception as err:  # a diagnostic must not end a training run
        logger.warning(f"epoch {epoch}: the validation samples could not be decoded ({type(err).__name__}: {err})")
        return
    finally:
        model.train(was_training)
    for line in lines:
        logger.info(f"epoch {epoch} sample {line}")
    for warning in warnings:
        logger.warning(f"epoch {epoch}: {warning}")


@dataclass
class TrendWatch:
    """Training loss per epoch against a validation metric per epoch (higher is better when
    ``higher_is_better``); :meth:`check` warns once per stretch of ``patience`` epochs without progress."""

    patience: int = 5
    train_loss: List[float] = field(default_factory=list)
    valid: List[float] = field(default_factory=list)
    higher_is_better: bool = True
    metric: str = "acc"

    def add(self, train_loss: Optional[float], valid: Optional[float]) -> None:
        if train_loss is not None and valid is not None:
            self.train_loss.append(train_loss)
            self.valid.append(valid)

    def check(self) -> Optional[str]:
        """A warning when the training loss fell over the last ``patience`` epochs and the validation
        metric did not beat its best from before them."""
        n = self.patience
        if n < 1 or len(self.valid) < n + 1:
            return None
        before, recent = self.valid[: -n], self.valid[-n:]
        best_before = max(before) if self.higher_is_better else min(before)
        best_recent = max(recent) if self.higher_is_better else min(recent)
        improved = best_recent > best_before if self.higher_is_better else best_recent < best_before
        fell = self.train_loss[-1] < self.train_loss[-n - 1]
        if fell and not improved:
            return (f"the training loss fell over the last {n} epochs ({self.train_loss[-n - 1]:.4g} -> "
                    f"{self.train_loss[-1]:.4g}) while validation {self.metric} did not improve on "
                    f"{best_before:.4g}: overfitting, a learning rate too high, or a broken validation set")
        return None
