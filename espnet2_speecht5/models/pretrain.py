"""SpeechT5 joint pre-training as an ESPnet model: speech and text batches through one encoder-decoder.

**Speech batch** (``speech``, ``speech_lengths``, ``label``, ``label_lengths``): the waveform goes
through the conv feature extractor; HuBERT span masks (prob 0.8, span 10, at least 2 spans) replace
frames by the learned mask embedding; the encoder output feeds

* masked prediction: ``final_proj`` to 256 dims, cosine logits against one embedding per k-means
  cluster over temperature 0.1, cross-entropy on masked frames (``loss_mlm``; unmasked frames
  weighted by ``unmasked_weight``, 0 by default);
* reconstruction: after the codebook mixing, the speech decoder rebuilds the 80-bin log-mel of
  the input (L1 before + after the post-net, ``loss_mel_l1``; stop BCE with positive weight 5,
  ``loss_stop_bce``);
* ``loss_feature_pen``: mean of squares of the conv features.

**Text batch** (``text``, ``text_lengths``): ``<sos/eos> text <sos/eos>`` is noised by BART text
infilling (30 % of tokens in Poisson(3.5) spans, one ``<mask>`` per span, 10 % of them random
tokens) and encoded; after the codebook mixing, the text decoder reconstructs ``text <sos/eos>``
(teacher-forced from ``<sos/eos> text``; token-averaged cross-entropy ``loss_text_ce``).

**Both**: the encoder output goes through a Gumbel vector quantiser (2 x 100 codes); a random
10 % of positions are replaced by their codes before the decoder, and ``loss_diversity`` =
(G·V - perplexity) / (G·V). A call may hold a speech batch, a text batch or both; the total is

    mlm_weight·loss_mlm + unmasked_weight·loss_mlm_unmasked + l1_weight·loss_mel_l1
    + bce_weight·loss_stop_bce + text_weight·loss_text_ce + diversity_weight·loss_diversity
    + feature_pen_weight·loss_feature_pen

over the terms present (``loss_diversity`` sums the speech and text diversities when both are
given). Defaults are the official command's: ``--loss-weights [10, 0.1]``, ``--codebook-prob 0.1``.

**Labels** are at ``label_rate``: the encoder frame rate (50 Hz) or ``k`` times it (100 Hz: ``k`` =
2), a label every ``320 / k`` samples. As in HuBERT (target of frame ``t``: label
``round(t * label_rate / frame_rate)``), encoder frame ``t`` is trained on label ``k t``, the one
that starts where the frame starts; of ``N`` labels, ``ceil(N / k)`` land on frames. An utterance
whose count of those and frame count differ (by at most ``label_length_tolerance``) is cut to the
shorter: the waveform length is reduced so that the conv stack yields exactly that many frames.

**Token ids** are those of all the models (:mod:`espnet2_speecht5.models.common`), so a pre-trained
model and a fine-tuned one with the same token list share embeddings; the token list must hold
``<mask>``.

**Randomness**: span masks, text noise, Gumbel noise and the codebook mixing all draw from
``self.generator`` when one is set (a CPU ``torch.Generator``: the span masks are drawn on the CPU),
else from torch's global generators, which ESPnet seeds with ``--seed``.

**Temperature**: the quantiser's update counter (a buffer, saved in checkpoints) advances once per
optimizer update: :class:`~espnet2_speecht5.tasks.pretrain.PretrainTask` registers
:meth:`SpeechT5PretrainModel.on_optimizer_step` as a post-step hook of the optimizer, so that
gradient accumulation and updates skipped for a non-finite gradient do not move it.
:meth:`SpeechT5PretrainModel.set_num_updates` sets it explicitly.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from torch import nn

from espnet2_speecht5.features.log_mel import build_log_mel
from espnet2_speecht5.models.common import (
    SpeechT5Model,
    decoder_io,
    espnet_net_config,
    front_end_feats,
    make_targets,
)
from espnet2_speecht5.models.pretrain_losses import (
    feature_penalty,
    masked_prediction_loss,
    mel_l1_loss,
    stop_bce_loss,
    text_ce_loss,
)
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.joint import JointNetwork
from espnet2_speecht5.nets.masked_prediction import MaskedPredictionHead
from espnet2_speecht5.nets.quantizer import GumbelVectorQuantizer, QuantizerOutput, mix_quantised
from espnet2_speecht5.nets.span_masking import speech_span_mask, text_infilling

Stats = Dict[str, Optional[torch.Tensor]]


def bert_init_(module: nn.Module) -> None:
    """BERT's initialisation (``--bert-init``): normal(0, 0.02) Linear and Embedding weights, zero biases
    and padding rows."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, mean=0.0, std=0.02)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, mean=0.0, std=0.02)
            if sub.padding_idx is not None:
                with torch.no_grad():
                    sub.weight[sub.padding_idx].zero_()


class SpeechT5PretrainModel(SpeechT5Model):
    """Joint speech/text pre-training on :class:`~espnet2_speecht5.nets.joint.JointNetwork`.

    Args:
        vocab_size: size V of the ESPnet token list.
        token_list: the tokens; must contain ``mask_token``.
        net_config: network sizes (vocabulary and special ids are set as for ASR).
        num_clusters: number of k-means clusters of the speech labels.
        mask_token: the token that replaces a text span.
        mask_prob, mask_length, mask_min_spans: HuBERT span masking of speech frames.
        mlm_weight, unmasked_weight: weights of the prediction loss on masked / unmasked frames.
        l1_weight, bce_weight, bce_pos_weight: speech reconstruction (L1, stop BCE and its positive weight).
        text_weight: weight of the text reconstruction cross-entropy.
        diversity_weight: weight of the codebook diversity loss.
        feature_pen_weight: weight of the conv-feature L2 penalty.
        final_dim, logit_temp: masked-prediction projection size and cosine temperature.
        use_codebook: quantise and mix the encoder output (off: no diversity loss either).
        codebook_prob: fraction of positions replaced by their codes before the decoder.
        latent_groups, latent_vars: codebooks G and entries per codebook V.
        latent_temp: (max, min, decay per update) of the Gumbel temperature.
        text_mask_ratio, poisson_lambda, text_random_ratio: BART text infilling.
        label_rate, sample_rate: labels per second and audio rate; ``label_rate`` must be a whole
            multiple ``k`` of the encoder frame rate ``sample_rate / stride`` (the conv stack's stride).
        label_length_tolerance: the largest accepted |frames - labels on frames| of an utterance.
        share_text_embeddings: one embedding for text encoder input, decoder input and output.
        bert_init: BERT's normal(0, 0.02) initialisation of Linear and Embedding weights.
    """

    def __init__(
        self,
        vocab_size: int,
        token_list: Union[Sequence[str], None],
        net_config: SpeechT5Config,
        num_clusters: int = 500,
        mask_token: str = "<mask>",
        mask_prob: float = 0.8,
        mask_length: int = 10,
        mask_min_spans: int = 2,
        mlm_weight: float = 1.0,
        unmasked_weight: float = 0.0,
        l1_weight: float = 1.0,
        bce_weight: float = 1.0,
        bce_pos_weight: float = 5.0,
        text_weight: float = 1.0,
        diversity_weight: float = 0.1,
        feature_pen_weight: float = 10.0,
        final_dim: int = 256,
        logit_temp: float = 0.1,
        use_codebook: bool = True,
        codebook_prob: float = 0.1,
        latent_groups: int = 2,
        latent_vars: int = 100,
        latent_temp: Sequence[float] = (2.0, 0.5, 0.999995),
        text_mask_ratio: float = 0.3,
        poisson_lambda: float = 3.5,
        text_random_ratio: float = 0.1,
        label_rate: float = 50.0,
        sample_rate: int = 16000,
        label_length_tolerance: int = 2,
        share_text_embeddings: bool = True,
        bert_init: bool = True,
    ) -> None:
        weights = dict(
            mlm_weight=mlm_weight,
            unmasked_weight=unmasked_weight,
            l1_weight=l1_weight,
            bce_weight=bce_weight,
            text_weight=text_weight,
            diversity_weight=diversity_weight,
            feature_pen_weight=feature_pen_weight,
        )
        for name, value in weights.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if token_list is None or mask_token not in token_list:
            raise ValueError(f"the token list must contain the text mask token {mask_token!r}")
        if len(token_list) != vocab_size:
            raise ValueError(f"vocab_size {vocab_size} differs from the token list size {len(token_list)}")
        if len(latent_temp) != 3:
            raise ValueError(f"latent_temp must be (max, min, decay), got {list(latent_temp)}")
        super().__init__(vocab_size, token_list)
        cfg = espnet_net_config(net_config, vocab_size).replace(
            mask_time_prob=mask_prob, mask_time_length=mask_length, mask_time_min_masks=mask_min_spans
        )
        frame_rate = sample_rate / cfg.samples_per_frame
        ratio = label_rate / frame_rate if label_rate > 0 else 0.0
        if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"labels at {label_rate} Hz do not match the encoder frame rate "
                f"({sample_rate} / {cfg.samples_per_frame} = {frame_rate} Hz): label_rate must be a whole "
                f"multiple of it ({frame_rate:g}, {2 * frame_rate:g}, ... Hz)"
            )
        self.label_rate = float(label_rate)
        self.labels_per_frame = int(round(ratio))  # k: encoder frame t is trained on label k t
        self.sos = self.eos = vocab_size - 1
        self.mask_id = self.token_list.index(mask_token)
        specials = {0, 1, self.mask_id, self.eos}
        self.random_ids = [i for i in range(vocab_size) if i not in specials]
        self.weights = weights
        self.mask_prob, self.mask_length, self.mask_min_spans = mask_prob, mask_length, mask_min_spans
        self.bce_pos_weight = bce_pos_weight
        self.codebook_prob = codebook_prob
        self.text_mask_ratio, self.poisson_lambda, self.text_random_ratio = (
            text_mask_ratio,
            poisson_lambda,
            text_random_ratio,
        )
        self.label_length_tolerance = label_length_tolerance
        self.net = JointNetwork(cfg, share_text_embeddings)
        self.prediction_head = MaskedPredictionHead(cfg.d_model, num_clusters, final_dim, logit_temp)
        self.quantizer: Optional[GumbelVectorQuantizer] = None
        if use_codebook:
            max_temp, min_temp, decay = (float(v) for v in latent_temp)
            self.quantizer = GumbelVectorQuantizer(
                cfg.d_model, latent_groups, latent_vars, cfg.d_model, max_temp, min_temp, decay
            )
        if bert_init:
            bert_init_(self)
        self.feats_extract = build_log_mel()
        self.generator: Optional[torch.Generator] = None

    @property
    def cfg(self) -> SpeechT5Config:
        return self.net.cfg

    def set_num_updates(self, num_updates: int) -> None:
        """Set the update count that drives the quantiser's temperature."""
        if self.quantizer is not None:
            self.quantizer.set_num_updates(num_updates)

    def on_optimizer_step(self, *_hook_args) -> None:
        """Advance the temperature schedule by one update (an optimizer post-step hook)."""
        if self.quantizer is not None:
            self.quantizer.step()

    # ------------------------------------------------------------------ randomness
    def _check_generator(self) -> None:
        if self.generator is not None and self.generator.device.type != "cpu":
            raise ValueError(f"the model's generator must be a CPU torch.Generator, got one on {self.generator.device}")

    def _draw_seed(self) -> int:
        """A fresh 62-bit seed from ``self.generator`` (or torch's global generator)."""
        return int(torch.randint(0, 2**62, (1,), generator=self.generator))

    # ------------------------------------------------------------------ speech pieces
    def align_to_labels(
        self, speech_lengths: torch.Tensor, label_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Cut each utterance to min(frames, labels on frames) frames.

        Args:
            speech_lengths: (B,) samples; label_lengths: (B,) labels at ``label_rate``, of which
                ``ceil(N / k)`` land on encoder frames.

        Returns:
            new waveform lengths (B,) (the most samples that still give that many frames) and the
            frame counts (B,).

        Raises:
            ValueError: an utterance too short for one frame, or frames and labels further apart
                than ``label_length_tolerance``.
        """
        prenet = self.net.speech_prenet
        frames = prenet.frame_lengths(speech_lengths.long())
        given = label_lengths.to(frames.device).long()
        per_frame = self.labels_per_frame
        labels = torch.div(given + per_frame - 1, per_frame, rounding_mode="floor")  # ceil(N / k)
        far = (frames - labels).abs() > self.label_length_tolerance
        if bool(far.any()):
            row = int(far.nonzero()[0, 0])
            on_frames = f" ({int(labels[row])} on encoder frames)" if per_frame > 1 else ""
            raise ValueError(
                f"batch row {row}: {int(frames[row])} encoder frames but {int(given[row])} labels{on_frames} "
                f"(more than {self.label_length_tolerance} apart; are the labels at {self.label_rate:g} Hz?)"
            )
        kept = torch.minimum(frames, labels)
        if bool((kept < 1).any()):
            raise ValueError(f"utterances too short for one encoder frame: lengths {speech_lengths.tolist()}")
        most = prenet.samples_for_frames(kept + 1) - 1
        return torch.minimum(speech_lengths.long(), most.to(speech_lengths.device)), kept

    def speech_terms(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        label: torch.Tensor,
        label_lengths: torch.Tensor,
    ) -> Tuple[Dict[str, torch.Tensor], Stats, Optional[QuantizerOutput]]:
        """The speech-batch loss terms (unweighted) and accuracies; see the module docstring."""
        prenet = self.net.speech_prenet
        speech_lengths, _ = self.align_to_labels(speech_lengths, label_lengths)
        speech = speech[:, : int(speech_lengths.max())]
        speech_lengths = speech_lengths.to(speech.device)
        beyond = torch.arange(speech.size(1), device=speech.device)[None, :] >= speech_lengths[:, None]
        speech = speech.masked_fill(beyond, 0.0)  # the cut-off audio must not leak into the mel targets
        features, frame_lengths, valid = prenet.extract_features(speech, speech_lengths)
        length = features.size(1)
        terms: Dict[str, torch.Tensor] = {"loss_feature_pen": feature_penalty(features, valid)}
        stats: Stats = {}
        time_mask = speech_span_mask(
            frame_lengths, length, self.mask_prob, self.mask_length, self.mask_min_spans, self.generator
        )
        x, _ = prenet.embed_features(features, valid, frame_lengths, time_mask)
        hidden = self.net.encoder(x, valid)

        labels = label[:, :: self.labels_per_frame][:, :length].long()  # label k t for frame t
        if labels.size(1) < length:
            labels = torch.cat([labels, labels.new_full((labels.size(0), length - labels.size(1)), -1)], dim=1)
        labels = labels.masked_fill(~valid, -1)
        proj = self.prediction_head(hidden)
        label_emb = self.prediction_head.label_embs
        temp = self.prediction_head.temperature
        terms["loss_mlm"], stats["acc_mlm"] = masked_prediction_loss(proj, label_emb, labels, time_mask & valid, temp)
        if self.weights["unmasked_weight"] > 0:
            terms["loss_mlm_unmasked"], stats["acc_mlm_unmasked"] = masked_prediction_loss(
                proj, label_emb, labels, ~time_mask & valid, temp
            )
        stats["mask_ratio"] = (time_mask & valid).sum().float() / valid.sum().clamp(min=1).float()

        memory, quantised = self.mix_codes(hidden, valid)
        feats, feats_lengths = self.feats_extract(speech, speech_lengths)
        targets = make_targets(feats, feats_lengths, self.cfg.reduction_factor)
        before, after, stop = self.net.decode_speech(memory, valid, targets.prev_mel, targets.steps)
        terms["loss_mel_l1"] = mel_l1_loss(before, after, targets.mel, targets.lengths)
        terms["loss_stop_bce"] = stop_bce_loss(stop, targets.stop, targets.lengths, self.bce_pos_weight)
        return terms, stats, quantised

    # ------------------------------------------------------------------ text pieces
    def noise_text(self, text: torch.Tensor, text_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """text (B, N) ESPnet ids padded with -1 -> noised ``<sos/eos> text <sos/eos>`` (B, N') padded
        with -1, and its lengths (B,)."""
        rng = np.random.default_rng(self._draw_seed())
        rows = []
        for tokens, length in zip(text.detach().cpu().numpy(), text_lengths.tolist()):
            clean = np.concatenate([[self.sos], tokens[: int(length)], [self.eos]]).astype(np.int64)
            rows.append(
                text_infilling(
                    clean,
                    self.mask_id,
                    rng,
                    self.text_mask_ratio,
                    self.poisson_lambda,
                    self.text_random_ratio,
                    self.random_ids,
                )
            )
        lengths = torch.tensor([row.size for row in rows], dtype=torch.long)
        noised = torch.full((len(rows), int(lengths.max())), -1, dtype=torch.long)
        for index, row in enumerate(rows):
            noised[index, : row.size] = torch.from_numpy(row)
        return noised.to(text.device), lengths.to(text.device)

    def decoder_io(self, text: torch.Tensor, text_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """text (B, N) padded with -1 -> decoder input ``[sos, y]`` and target ``[y, eos]``, (B, N + 1)."""
        return decoder_io(text, text_lengths, self.sos, self.eos)

    def text_terms(
        self, text: torch.Tensor, text_lengths: torch.Tensor
    ) -> Tuple[Dict[str, torch.Tensor], Stats, Optional[QuantizerOutput]]:
        """The text-batch loss term (unweighted) and accuracy; see the module docstring."""
        noised, noised_lengths = self.noise_text(text, text_lengths)
        hidden, valid = self.net.encode_text(self.to_net_ids(noised), noised_lengths)
        memory, quantised = self.mix_codes(hidden, valid)
        ys_in, ys_out = self.decoder_io(text, text_lengths)
        logits = self.net_logits_to_espnet(self.net.decode_text(memory, valid, self.to_net_ids(ys_in)))
        loss, accuracy = text_ce_loss(logits, ys_out)
        return {"loss_text_ce": loss}, {"acc_text": accuracy}, quantised

    # ------------------------------------------------------------------ shared pieces
    def mix_codes(
        self, hidden: torch.Tensor, valid: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[QuantizerOutput]]:
        """Quantise the encoder output (B, T, D) and replace ``codebook_prob`` of its positions by the codes."""
        if self.quantizer is None:
            return hidden, None
        quantised = self.quantizer(hidden, valid, self.generator)
        mixed, _ = mix_quantised(hidden, quantised.quantised, self.codebook_prob, self.generator)
        return mixed, quantised

    def weighted_total(self, terms: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of ``weight * term`` over the terms present (``loss_x`` has weight ``x_weight``)."""
        names = {
            "loss_mlm": "mlm_weight",
            "loss_mlm_unmasked": "unmasked_weight",
            "loss_mel_l1": "l1_weight",
            "loss_stop_bce": "bce_weight",
            "loss_text_ce": "text_weight",
            "loss_diversity": "diversity_weight",
            "loss_feature_pen": "feature_pen_weight",
        }
        return sum(self.weights[names[key]] * value for key, value in terms.items())

    # ------------------------------------------------------------------ ESPnet interface
    def forward(
        self,
        speech: Optional[torch.Tensor] = None,
        speech_lengths: Optional[torch.Tensor] = None,
        label: Optional[torch.Tensor] = None,
        label_lengths: Optional[torch.Tensor] = None,
        text: Optional[torch.Tensor] = None,
        text_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Stats, torch.Tensor]:
        """Pre-training losses of a speech batch, a text batch, or one of each.

        Args:
            speech: (B, L) 16 kHz waveform; speech_lengths: (B,) samples.
            label: (B, N) k-means cluster ids at ``label_rate``, padded with -1; label_lengths: (B,).
            text: (B', N') ESPnet token ids padded with -1; text_lengths: (B',).

        Returns:
            loss, stats (``loss`` and every term; accuracies, ``code_perplexity``,
            ``codebook_temp``, ``mask_ratio``), and the number of utterances as the weight.
        """
        has_speech = speech is not None
        has_text = text is not None
        if not has_speech and not has_text:
            raise ValueError("a pre-training batch needs speech (with labels) or text")
        if has_speech and (speech_lengths is None or label is None or label_lengths is None):
            raise ValueError("a speech batch needs speech_lengths, label and label_lengths")
        if has_text and text_lengths is None:
            raise ValueError("a text batch needs text_lengths")
        self._check_generator()
        terms: Dict[str, torch.Tensor] = {}
        stats: Stats = {}
        codes: List[QuantizerOutput] = []
        batch = 0
        if has_speech:
            speech_terms, speech_stats, quantised = self.speech_terms(speech, speech_lengths, label, label_lengths)
            terms.update(speech_terms)
            stats.update(speech_stats)
            codes += [quantised] if quantised is not None else []
            batch += speech.size(0)
        if has_text:
            text_terms, text_stats, quantised = self.text_terms(text, text_lengths)
            terms.update(text_terms)
            stats.update(text_stats)
            codes += [quantised] if quantised is not None else []
            batch += text.size(0)
        if codes:
            terms["loss_diversity"] = sum(q.diversity_loss for q in codes)
            stats["code_perplexity"] = sum(q.code_perplexity for q in codes).detach() / len(codes)
            stats["codebook_temp"] = torch.tensor(codes[0].temperature)
        loss = self.weighted_total(terms)
        stats.update({key: value.detach() for key, value in terms.items()})
        stats["loss"] = loss.detach()
        loss, stats, weight = force_gatherable((loss, stats, batch), loss.device)
        return loss, stats, weight

    def collect_feats(
        self,
        speech: Optional[torch.Tensor] = None,
        speech_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        """Speech batches: the front end's features with the fbank pre-net, else the raw waveform (B, L);
        and their lengths. Nothing for text batches."""
        if speech is None:
            return {}
        feats = front_end_feats(self.net, speech, speech_lengths)
        return feats if feats is not None else {"feats": speech, "feats_lengths": speech_lengths}
