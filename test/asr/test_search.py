"""The decoder as a batch scorer: KV-cache scores, beam search vs greedy, LM fusion."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import torch
import yaml
from asr_helpers import TOKENS, make_model
from espnet.nets.batch_beam_search import BatchBeamSearch

from espnet2_speecht5.inference.speech2text import Speech2Text
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.models.common import id_permutation
from espnet2_speecht5.search.asr_scorer import SpeechT5DecoderScorer
from espnet2_speecht5.search.greedy import greedy_speech_to_text

EOS = len(TOKENS) - 1


def encoded(model: SpeechT5ASRModel, samples: int = 6400, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    wav = torch.randn(1, samples)
    enc, _ = model.encode(wav, torch.tensor([samples]))
    return enc.hidden[0]


def full_scores(model: SpeechT5ASRModel, x: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
    """log-probabilities of the token after ``prefix`` (L,) by a full teacher-forced pass."""
    from espnet2_speecht5.nets.compositions import EncoderOutput

    logits, _ = model.decoder_logits(EncoderOutput(x[None], None), prefix[None])
    logp = torch.log_softmax(logits[0, -1], dim=-1)
    logp[0] = float("-inf")
    return logp


@torch.no_grad()
def test_cached_scores_equal_full_recomputation() -> None:
    model = make_model().eval()
    scorer = SpeechT5DecoderScorer(model)
    x = encoded(model)
    # three hypotheses that share a first step, then branch and get reordered like a beam
    ys = torch.tensor([[EOS]])
    scores, states = scorer.batch_score(ys, [scorer.batch_init_state(x)], x[None])
    assert torch.allclose(scores[0], full_scores(model, x, ys[0]), atol=1e-5)
    prefixes = torch.tensor([[EOS, 3], [EOS, 4], [EOS, 5]])
    states = [scorer.select_state(states, 0) for _ in range(3)]
    for step_tokens, order in (([6, 3, 7], [2, 0, 1]), ([2, 2, 4], [1, 1, 0]), ([5, 6, 7], [0, 2, 1])):
        scores, new_states = scorer.batch_score(prefixes, states, x.expand(len(prefixes), *x.shape))
        for row in range(len(prefixes)):
            assert torch.allclose(scores[row], full_scores(model, x, prefixes[row]), atol=1e-5)
        # beam reordering: keep rows ``order`` and append one token to each
        prefixes = torch.cat([prefixes[order], torch.tensor(step_tokens)[:, None]], dim=1)
        states = [scorer.select_state(new_states, i) for i in order]
    assert states[0].length == prefixes.size(1) - 1


@torch.no_grad()
def test_single_hypothesis_score_interface() -> None:
    model = make_model().eval()
    scorer = SpeechT5DecoderScorer(model)
    x = encoded(model)
    logp, state = scorer.score(torch.tensor([EOS]), None, x)
    logp2, _ = scorer.score(torch.tensor([EOS, 4]), state, x)
    assert torch.allclose(logp2, full_scores(model, x, torch.tensor([EOS, 4])), atol=1e-5)


@torch.no_grad()
def test_beam_one_without_ctc_equals_greedy() -> None:
    model = make_model(seed=2).eval()
    steps = 12
    torch.manual_seed(0)
    wav = torch.randn(1, 8000)
    greedy = greedy_speech_to_text(model.net, wav, torch.tensor([8000]), max_len=steps + 1)[0, 1:]
    perm = id_permutation(len(TOKENS))
    greedy = perm[greedy]  # network ids -> ESPnet ids (the swap is its own inverse)
    assert 0 not in greedy.tolist(), "pick another seed: greedy chose the padding id"
    if EOS in greedy.tolist():
        greedy = greedy[: greedy.tolist().index(EOS)]
    search = BatchBeamSearch(
        scorers=dict(decoder=SpeechT5DecoderScorer(model)),
        weights=dict(decoder=1.0),
        beam_size=1,
        vocab_size=len(TOKENS),
        sos=EOS,
        eos=EOS,
    )
    enc, _ = model.encode(wav, torch.tensor([8000]))
    best = search(enc.hidden[0], maxlenratio=-float(steps), minlenratio=0.0)[0]
    tokens = best.yseq[1:].tolist()
    if tokens and tokens[-1] == EOS:
        tokens = tokens[:-1]
    assert tokens == greedy.tolist()


def write_lm(root: Path, favoured: int) -> Dict[str, Path]:
    """A tiny ESPnet RNN LM (LM task files) whose output strongly favours token ``favoured``."""
    from espnet2.tasks.lm import LMTask

    tokens = root / "lm_tokens.txt"
    tokens.write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    parser = LMTask.get_parser()
    args = parser.parse_args(
        [
            "--output_dir",
            str(root),
            "--token_list",
            str(tokens),
            "--lm",
            "seq_rnn",
            "--lm_conf",
            "{unit: 8, nlayers: 1}",
        ]
    )
    lm = LMTask.build_model(args)
    with torch.no_grad():
        lm.lm.decoder.weight.zero_()
        lm.lm.decoder.bias.fill_(-10.0)
        lm.lm.decoder.bias[favoured] = 10.0
    torch.save(lm.state_dict(), root / "lm.pth")
    config = {k: v for k, v in vars(args).items() if k not in ("config", "print_config")}
    (root / "lm_config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return dict(config=root / "lm_config.yaml", model=root / "lm.pth")


def test_lm_fusion_changes_the_hypothesis(asr_exp: Dict[str, Path], tmp_path: Path) -> None:
    import soundfile as sf

    lm = write_lm(tmp_path, favoured=TOKENS.index("e"))
    wav, _ = sf.read(str(asr_exp["root"] / "utt0.wav"), dtype="float32")
    common = dict(beam_size=3, ctc_weight=0.3, maxlenratio=-8.0, minlenratio=-3.0)
    plain = Speech2Text(asr_exp["config"], asr_exp["model"], **common)(wav)[0]
    fused = Speech2Text(asr_exp["config"], asr_exp["model"], lm["config"], lm["model"], lm_weight=2.0, **common)(wav)[0]
    assert fused[0] != plain[0]
    assert fused[1].count("e") > plain[1].count("e")
    assert "lm" in fused[3].scores
