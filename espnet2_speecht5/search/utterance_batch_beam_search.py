"""Joint CTC/attention beam search over several utterances at once.

ESPnet's ``BatchBeamSearch`` batches the hypotheses of one utterance: each decoder call sees at most
``beam`` rows. This search runs B utterances together, so each step is one decoder call on B x beam
rows and one CTC prefix-scoring call on the same rows, which is what keeps a CPU's (or a GPU's)
matrix units busy when a test set is decoded.

It follows ``BatchBeamSearch`` step for step, so that every utterance gets the hypotheses that
ESPnet's search (as :class:`~espnet2_speecht5.inference.speech2text.Speech2Text` sets it up) gives
it alone:

* step scores: ``(1 - ctc_weight) * decoder + penalty + ctc_weight * ctc + previous score``, with
  ``<blank>`` never emitted by the decoder;
* with CTC, the candidates are first cut to the ``int(1.5 * beam)`` best by the other scores (the
  pre-beam), and CTC scores only those;
* each utterance keeps the ``beam`` best (hypothesis, token) pairs; a pair ending in ``<sos/eos>``
  leaves the beam and is kept if it is at least ``minlen`` long; at step ``maxlen - 1`` every running
  hypothesis gets ``<sos/eos>`` appended (without its score);
* ``maxlenratio`` 0 stops an utterance by ESPnet's ``end_detect``, and the length limits are
  computed from each utterance's own encoder length.

Each utterance keeps ``beam`` rows at every step after the first, the places of hypotheses that
ended being dead rows (score -inf) until the utterance finishes, so the rows of one utterance stay
together: the cross-attention of those rows to their utterance's encoder output runs as one
attention call per utterance (see :class:`~espnet2_speecht5.nets.attention.MultiHeadAttention`).
Finished utterances are dropped from the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np
import torch

from espnet2_speecht5.nets.attention import DecoderCache
from espnet2_speecht5.nets.compositions import EncoderOutput
from espnet2_speecht5.search.asr_scorer import ASRDecoderModel
from espnet2_speecht5.search.ctc_prefix_scorer import ScanCTCPrefixScore

PRE_BEAM_RATIO = 1.5  # ESPnet's default
END_DETECT_M = 3  # ESPnet's end_detect: M and D_end
END_DETECT_D = float(np.log(np.exp(-10)))


@dataclass
class Hyp:
    """A finished hypothesis: ESPnet ids (``<sos/eos>`` first and last), total score and its parts."""

    yseq: torch.Tensor
    score: float
    scores: Dict[str, float] = field(default_factory=dict)


def length_limits(ratio_max: float, ratio_min: float, frames: int) -> tuple[int, int]:
    """(maxlen, minlen) as ESPnet's ``BeamSearch.forward`` computes them for ``frames`` encoder frames."""
    if ratio_max == 0:
        maxlen = frames
    elif ratio_max < 0:
        maxlen = -1 * int(ratio_max)
    else:
        maxlen = max(1, int(ratio_max * frames))
    minlen = -1 * int(ratio_min) if ratio_min < 0 else int(ratio_min * frames)
    return maxlen, minlen


def end_detected(ended: Sequence[Hyp], step: int) -> bool:
    """ESPnet's ``end_detect``: for each of the last M lengths, the best hypothesis of that length is
    far below the best overall."""
    if not ended:
        return False
    best = max(h.score for h in ended)
    count = 0
    for m in range(END_DETECT_M):
        same = [h.score for h in ended if len(h.yseq) == step - m]
        if same and max(same) - best < END_DETECT_D:
            count += 1
    return count == END_DETECT_M


class UtteranceBatchBeamSearch:
    """Beam search of B utterances together (see the module docstring).

    Args:
        model: the ASR model (its ``net``, ``ctc``, ids and id conversions), in eval mode.
        beam_size: hypotheses kept per utterance.
        ctc_weight: CTC share of the score (0 decodes without the CTC head).
        penalty: bonus per token (ESPnet's length bonus).
    """

    def __init__(self, model: ASRDecoderModel, beam_size: int, ctc_weight: float, penalty: float = 0.0) -> None:
        if not 0.0 <= ctc_weight < 1.0:
            raise ValueError(f"utterance-batched search needs 0 <= ctc_weight < 1, got {ctc_weight}")
        self.model = model
        self.beam = beam_size
        self.ctc_weight = ctc_weight
        self.penalty = penalty
        self.sos, self.eos = model.sos, model.eos
        self.vocab = model.vocab_size
        self.pre_beam = int(PRE_BEAM_RATIO * beam_size)
        self.use_ctc = ctc_weight > 0 and getattr(model, "ctc", None) is not None
        self.do_pre_beam = self.use_ctc and self.pre_beam < self.vocab

    @torch.no_grad()
    def __call__(self, hidden: torch.Tensor, lengths: torch.Tensor, maxlenratio: float = 0.0,
                 minlenratio: float = 0.0) -> List[List[Hyp]]:
        """Decode every utterance of an encoder batch.

        Args:
            hidden: (B, S, D) encoder output, padded.
            lengths: (B,) valid encoder frames of each utterance.

        Returns:
            for each utterance, its finished hypotheses sorted by score (best first; may be empty).
        """
        device = hidden.device
        batch = hidden.size(0)
        frames = [int(n) for n in lengths.tolist()]
        limits = [length_limits(maxlenratio, minlenratio, n) for n in frames]
        ended: List[List[Hyp]] = [[] for _ in range(batch)]
        active = list(range(batch))  # utterances still decoding, in batch order
        valid = torch.arange(hidden.size(1), device=device)[None, :] < lengths.to(device)[:, None]
        enc = EncoderOutput(hidden, None if bool(valid.all()) else valid)
        cache = self.model.net.decoder.new_cache()
        ctc = None
        if self.use_ctc:
            ctc = ScanCTCPrefixScore(self.model.ctc.log_softmax(hidden), lengths.cpu(), 0, self.eos)
        # running rows: one per utterance at the first step, ``beam`` per utterance afterwards
        per_utt = 1
        yseq = torch.full((batch, 1), self.sos, dtype=torch.long, device=device)
        # scores stay in float32 and are summed in ESPnet's order, so that ties break the same way
        score = torch.zeros(batch, device=device)
        parts = {k: torch.zeros(batch, device=device) for k in self._part_names()}
        ctc_state = None
        step = 0
        while active:
            utt_of_row = torch.arange(len(active), device=device).repeat_interleave(per_utt)
            weighted, dec = self._full_scores(enc, yseq, cache)
            ctc_scores = None
            if ctc is not None:
                ids = torch.topk(weighted, self.pre_beam, dim=-1)[1] if self.do_pre_beam else None
                ctc.row_utterance = torch.tensor(active, device=device)[utt_of_row]
                ctc_scores, ctc_full = ctc(yseq, ctc_state, ids)
                weighted = weighted + self.ctc_weight * ctc_scores
            weighted = weighted + score.to(weighted.dtype)[:, None]

            # the beam best (row, token) pairs of each utterance
            flat = weighted.view(len(active), per_utt * self.vocab)
            top_scores, top_ids = flat.topk(self.beam, dim=-1)  # (U, beam)
            prev_row = (top_ids // self.vocab + torch.arange(len(active), device=device)[:, None] * per_utt).view(-1)
            token = (top_ids % self.vocab).view(-1)
            new_score = top_scores.view(-1)
            new_parts = {"decoder": parts["decoder"][prev_row] + dec[prev_row, token]}
            if "length_bonus" in parts:
                new_parts["length_bonus"] = parts["length_bonus"][prev_row] + 1.0
            if ctc_scores is not None:
                new_parts["ctc"] = parts["ctc"][prev_row] + ctc_scores[prev_row, token]
                r, log_psi, _, _, idmap = ctc_full
                column = token if idmap is None else idmap[prev_row, token]
                ctc_state = (r[:, :, prev_row, column], log_psi[prev_row, token][:, None].expand(-1, log_psi.size(1)),
                             0, 0)
            yseq = torch.cat([yseq[prev_row], token[:, None]], dim=1)
            for layer in cache.layers:
                layer.self_kv = (layer.self_kv[0][prev_row], layer.self_kv[1][prev_row])
            alive = torch.isfinite(new_score)
            per_utt = self.beam

            # post-processing per utterance: forced eos at the last step, ended hypotheses, stop rules
            keep_utts: List[int] = []
            for u, utt in enumerate(active):
                maxlen, minlen = limits[utt]
                block = slice(u * per_utt, (u + 1) * per_utt)
                last_step = step == maxlen - 1
                for row in range(block.start, block.stop):
                    if not bool(alive[row]):
                        continue
                    if last_step or int(token[row]) == self.eos:
                        # as ESPnet: the last step appends <sos/eos> to every running hypothesis
                        seq = torch.cat([yseq[row], yseq.new_tensor([self.eos])]) if last_step else yseq[row]
                        if step >= minlen:
                            ended[utt].append(Hyp(seq.clone(), float(new_score[row]),
                                                  {k: float(v[row]) for k, v in new_parts.items()}))
                        alive[row] = False
                done = last_step or not bool(alive[block].any())
                if not done and maxlenratio == 0.0 and end_detected(ended[utt], step):
                    done = True
                if not done:
                    keep_utts.append(u)
            new_score = torch.where(alive, new_score, torch.full_like(new_score, float("-inf")))
            if len(keep_utts) < len(active):
                keep = torch.tensor(keep_utts, dtype=torch.long, device=device)
                keep_rows = (keep[:, None] * per_utt + torch.arange(per_utt, device=device)[None, :]).view(-1)
                yseq, new_score = yseq[keep_rows], new_score[keep_rows]
                new_parts = {k: v[keep_rows] for k, v in new_parts.items()}
                for layer in cache.layers:
                    layer.self_kv = (layer.self_kv[0][keep_rows], layer.self_kv[1][keep_rows])
                    layer.cross_kv = (layer.cross_kv[0][keep], layer.cross_kv[1][keep])
                enc = EncoderOutput(enc.hidden[keep], None if enc.valid is None else enc.valid[keep])
                if ctc_state is not None:
                    ctc_state = (ctc_state[0][:, :, keep_rows], ctc_state[1][keep_rows], 0, 0)
                active = [active[u] for u in keep_utts]
            score, parts = new_score, new_parts
            step += 1
        return [sorted(hyps, key=lambda h: h.score, reverse=True) for hyps in ended]

    def _part_names(self) -> List[str]:
        names = ["decoder"]
        if self.penalty != 0.0:
            names.append("length_bonus")
        if self.use_ctc:
            names.append("ctc")
        return names

    def _full_scores(self, enc: EncoderOutput, yseq: torch.Tensor, cache: DecoderCache):
        """(rows, V) weighted decoder + length bonus scores, and the decoder's log-probabilities."""
        model = self.model
        logits = model.net.decode_step(enc, model.to_net_ids(yseq[:, -1:]), cache)[:, -1]
        dec = torch.log_softmax(model.net_logits_to_espnet(logits).float(), dim=-1)
        dec[:, model.blank_id] = float("-inf")
        weighted = torch.zeros_like(dec)
        weighted += (1.0 - self.ctc_weight) * dec
        if self.penalty != 0.0:
            weighted += self.penalty
        return weighted, dec

