"""CTC prefix scoring for ESPnet's batch beam search, with the time recursion done as a scan.

ESPnet's :class:`~espnet.nets.ctc_prefix_score.CTCPrefixScoreTH` extends every hypothesis by
every candidate label with a Python loop over the encoder frames: at each decoding step it runs a
handful of tiny tensor operations per frame. With 5 hypotheses, 7 candidates and 250 frames, that
loop is most of the time the CTC scorer takes (see bench/RESULTS.md).

The loop computes, for each hypothesis and candidate, the CTC forward variables of the extended
prefix: ``n[t]`` (paths ending in the new label) and ``b[t]`` (ending in blank):

    n[t] = logaddexp(n[t-1], phi[t-1]) + x_label[t]
    b[t] = logaddexp(n[t-1], b[t-1]) + x_blank[t]

Each is a first-order linear recurrence in the log semiring, ``h[t] = logaddexp(h[t-1], u[t]) +
g[t]``, whose closed form is ``h[t] = G[t] + logcumsumexp(h[-1], u[k] - G[k-1] for k <= t)`` with
``G`` the running sum of ``g``. ``torch.logcumsumexp`` evaluates it for all frames at once: the
label recursion first, then the blank one, which only needs ``n`` shifted by one frame. The scan
runs in float64, because ``G`` reaches thousands (a sum of log-probabilities over the frames) and
adding it back must not cost precision.

Everything else (state layout, pruning to the pre-beam candidates, state selection, extension for
streaming) is ESPnet's, inherited unchanged, so the scorer plugs into ``BatchBeamSearch`` as before.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
from espnet.nets.ctc_prefix_score import CTCPrefixScoreTH
from espnet.nets.scorers.ctc import CTCPrefixScorer

State = Tuple[torch.Tensor, torch.Tensor, int, int, Optional[torch.Tensor]]


def log_linear_scan(init: torch.Tensor, inputs: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Solve ``h[t] = logaddexp(h[t-1], inputs[t]) + gains[t]`` for t = 0..L-1, with ``h[-1] = init``.

    Args:
        init: (*S) the value before the first frame.
        inputs, gains: (L, *S).

    Returns:
        (L, *S) ``h`` in the dtype of ``inputs``.
    """
    running = torch.cumsum(gains, dim=0)
    before = torch.cat([torch.zeros_like(running[:1]), running[:-1]])
    terms = torch.cat([init.unsqueeze(0), inputs - before])
    return running + torch.logcumsumexp(terms, dim=0)[1:]


class ScanCTCPrefixScore(CTCPrefixScoreTH):
    """:class:`CTCPrefixScoreTH` whose per-step scoring runs without a loop over frames or hypotheses.

    Same constructor, same state tuples and the same scores (within float rounding; the
    log-zero sentinels of impossible paths may differ slightly, and both mean probability 0).

    ``row_utterance`` (a (BW,) tensor, or None) names the utterance of each hypothesis row, for a
    search whose utterances hold different numbers of rows or leave the batch when they finish;
    None means ESPnet's layout, ``BW / B`` consecutive rows per utterance.
    """

    row_utterance: Optional[torch.Tensor] = None

    def __call__(
        self,
        y: Sequence[torch.Tensor],
        state: Optional[Tuple[torch.Tensor, torch.Tensor, int, int]],
        scoring_ids: Optional[torch.Tensor] = None,
        att_w: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, State]:
        """Score every candidate next label of every hypothesis.

        Args:
            y: the hypotheses' label sequences (each starting with sos); batch-major, ``n_hyps`` each.
            state: None at the first step, else (r (T, 2, BW), s (BW, O), f_min, f_max).
            scoring_ids: (BW, S) candidate labels to score (the pre-beam); None scores all O labels.
            att_w: attention weights for windowing (only used with ``margin > 0``).

        Returns:
            (BW, O) prefix scores minus the previous ones, and the new state
            (r (T, 2, BW, S), log_psi (BW, O), f_min, f_max, scoring_idmap (BW, O) or None).
        """
        device, dtype, frames = self.device, self.dtype, self.input_length
        output_length = len(y[0]) - 1
        n_bh = len(y)
        hyp = torch.arange(n_bh, device=device)
        utterance = self.row_utterance if self.row_utterance is not None else hyp // (n_bh // self.batch)
        if isinstance(y, torch.Tensor):
            last = y[:, -1].to(device)
        else:
            last = torch.tensor([int(seq[-1]) for seq in y], device=device)

        if state is None:
            r_prev = torch.full((frames, 2, n_bh), self.logzero, dtype=dtype, device=device)
            r_prev[:, 1] = torch.cumsum(self.x[0, :, :, self.blank], 0)[:, utterance]
            s_prev: Any = 0.0
            f_min_prev, f_max_prev = 0, 1
        else:
            r_prev, s_prev, f_min_prev, f_max_prev = state

        x_hyp = self.x[:, :, utterance, :]  # (2, T, BW, O)
        if scoring_ids is not None:
            snum = scoring_ids.size(-1)
            self.scoring_num = snum
            candidates = scoring_ids
            idmap = torch.full((n_bh, self.odim), -1, dtype=torch.long, device=device)
            idmap.scatter_(1, scoring_ids, torch.arange(snum, device=device).expand(n_bh, snum))
            x_cand = torch.gather(x_hyp, 3, scoring_ids.expand(2, frames, n_bh, snum))
        else:
            snum = self.odim
            self.scoring_num = 0
            candidates = torch.arange(snum, device=device).expand(n_bh, snum)
            idmap = None
            x_cand = x_hyp

        r = torch.full((frames, 2, n_bh, snum), self.logzero, dtype=dtype, device=device)
        if output_length == 0:
            r[0, 0] = x_cand[0, 0]
        r_sum = torch.logsumexp(r_prev, 1)  # (T, BW)
        # A candidate equal to the last label can only follow a path that ended in blank.
        repeats_last = candidates.eq(last.unsqueeze(1))  # (BW, S)
        log_phi = torch.where(repeats_last, r_prev[:, 1].unsqueeze(2), r_sum.unsqueeze(2))  # (T, BW, S)

        start, end, f_min, f_max = self._frame_window(output_length, att_w, f_min_prev, f_max_prev)
        if end > start:
            label_x = x_cand[0, start:end].double()
            blank_x = x_cand[1, start:end].double()
            n0, b0 = r[start - 1, 0].double(), r[start - 1, 1].double()
            n = log_linear_scan(n0, log_phi[start - 1 : end - 1].double(), label_x)
            n_before = torch.cat([n0.unsqueeze(0), n[:-1]])
            b = log_linear_scan(b0, n_before, blank_x)
            r[start:end, 0] = n.to(dtype)
            r[start:end, 1] = b.to(dtype)

        log_phi_x = torch.cat([log_phi[:1], log_phi[:-1]]) + x_cand[0]
        psi = torch.logsumexp(torch.cat([log_phi_x[start:end], r[start - 1, 0].unsqueeze(0)]), dim=0)  # (BW, S)
        if idmap is not None:
            log_psi = torch.full((n_bh, self.odim), self.logzero, dtype=dtype, device=device)
            log_psi.scatter_(1, scoring_ids, psi)
        else:
            log_psi = psi.clone()
        log_psi[hyp, self.eos] = r_sum[self.end_frames.to(device)[utterance], hyp]
        if self.eos != self.blank:
            log_psi[:, self.blank] = self.logzero
        return log_psi - s_prev, (r, log_psi, f_min, f_max, idmap)

    def _frame_window(
        self, output_length: int, att_w: Optional[torch.Tensor], f_min_prev: int, f_max_prev: int
    ) -> Tuple[int, int, int, int]:
        """(start, end, f_min, f_max): the frames to update; all of them unless windowing is on."""
        if att_w is not None and self.margin > 0:
            centre = torch.matmul(att_w, self.frame_ids)
            f_min = max(int(centre.min().cpu()), f_min_prev)
            f_max = max(int(centre.max().cpu()), f_max_prev)
            start = min(f_max_prev, max(f_min - self.margin, output_length, 1))
            return start, min(f_max + self.margin, self.input_length), f_min, f_max
        return max(output_length, 1), self.input_length, 0, 0


class ScanCTCPrefixScorer(CTCPrefixScorer):
    """ESPnet's ``CTCPrefixScorer`` for ``BatchBeamSearch``, scoring with :class:`ScanCTCPrefixScore`."""

    def batch_init_state(self, x: torch.Tensor) -> None:
        """Compute the CTC log-posteriors of one utterance's encoder output ``x`` (T, D)."""
        logp = self.ctc.log_softmax(x.unsqueeze(0))
        self.impl = ScanCTCPrefixScore(logp, torch.tensor([logp.size(1)]), 0, self.eos)
        return None


__all__: List[str] = ["ScanCTCPrefixScore", "ScanCTCPrefixScorer", "log_linear_scan"]
