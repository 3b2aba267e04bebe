"""Int8 CPU inference (``quantize_model``): the int8 layer's arithmetic, the swap, and the four
inference classes, each against its own fp32 result; and the bf16 encoder option (``bf16_encoder``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from espnet2_speecht5 import Speech2Label, Speech2Text, Text2Speech
from espnet2_speecht5.inference.precision import apply_quantization
from espnet2_speecht5.nets.int8_linear import Int8DynamicLinear, fbgemm_available, quantize_linear_layers, quantize_rows
from espnet2_speecht5.runtime.errors import DataError

from hub_helpers import tone, write_asr_exp, write_sid_exp, write_tts_exp


def _relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).detach().norm() / want.detach().norm())


def test_quantize_rows_round_trips_within_half_a_step():
    x = torch.randn(7, 33) * torch.logspace(-3, 2, 7)[:, None]  # rows of very different ranges
    q, scale = quantize_rows(x)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127
    assert bool(((q.float() * scale - x).abs() <= scale / 2 + 1e-6 * x.abs()).all())


@pytest.mark.parametrize("kernel", ["int_mm", "fbgemm", "fbgemm_rows"])
@pytest.mark.parametrize("bias", [True, False])
def test_int8_linear_matches_the_float_layer(bias: bool, kernel: str):
    if kernel != "int_mm":
        assert fbgemm_available(), "the pinned torch has fbgemm's int8 operators: --quantize_model would be slow"
    torch.manual_seed(0)
    linear = nn.Linear(96, 40, bias=bias)
    layer = Int8DynamicLinear.from_linear(linear, kernel)
    x = torch.randn(3, 5, 96)
    got, want = layer(x), linear(x)
    assert got.shape == want.shape == (3, 5, 40) and got.dtype == torch.float32
    assert _relative_error(got, want) < 0.02
    assert not torch.equal(got, want)  # it really computes in int8
    if kernel == "int_mm":  # one row alone gives the same numbers as inside a batch (scaled per row)
        torch.testing.assert_close(layer(x[1, 2]), got[1, 2], rtol=0, atol=1e-5)
    if kernel == "fbgemm_rows":
        assert torch.equal(layer(x[1, 2]), got[1, 2])


def test_fbgemm_rows_gives_each_row_the_same_result_whatever_its_mates():
    """Beam mates or batch mates of another magnitude must not change a row (plain fbgemm shares one scale)."""
    torch.manual_seed(1)
    linear = nn.Linear(64, 48)
    x = torch.randn(4, 64) * torch.tensor([[0.01], [1.0], [30.0], [0.5]])
    mates = torch.randn(6, 64) * 200.0
    rows = Int8DynamicLinear.from_linear(linear, "fbgemm_rows")
    alone = torch.cat([rows(x[i:i + 1]) for i in range(4)])
    assert torch.equal(rows(torch.cat([x, mates]))[:4], alone)
    assert torch.equal(rows(x), alone)
    product = linear(x[0]) - linear.bias  # the part the int8 product computes
    assert _relative_error(alone[0] - linear.bias, product) < 0.02, "a small row keeps its resolution"
    shared = Int8DynamicLinear.from_linear(linear, "fbgemm")
    assert not torch.equal(shared(torch.cat([x, mates]))[:4], shared(x)), "the case this kernel exists for"
    assert _relative_error(shared(torch.cat([x, mates]))[0] - linear.bias, product) > 0.1


def test_default_kernel_is_row_independent():
    from espnet2_speecht5.nets.int8_linear import ROW_INDEPENDENT_KERNELS

    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(1, 3))
    assert quantize_linear_layers(model) == 2
    assert {m.kernel for m in model} <= set(ROW_INDEPENDENT_KERNELS)
    with pytest.raises(ValueError, match="kernel must be one of"):
        quantize_linear_layers(nn.Sequential(nn.Linear(2, 2)), kernel="vnni")


def test_quantize_linear_layers_replaces_every_linear_but_the_skipped():
    from espnet2_speecht5.nets.compositions import build_network
    from espnet2_speecht5.nets.config import SpeechT5Config

    net = build_network("s2t", SpeechT5Config.tiny(vocab_size=12)).eval()
    linears = [name for name, m in net.named_modules() if type(m) is nn.Linear]
    prenet = [name for name in linears if name.startswith("speech_prenet")]
    assert prenet, "the test needs a linear layer under the skipped prefix"
    assert quantize_linear_layers(net, skip=("speech_prenet",)) == len(linears) - len(prenet)
    left = [name for name, m in net.named_modules() if type(m) is nn.Linear]
    assert left == prenet


def test_quantization_is_refused_off_the_cpu():
    with pytest.raises(DataError, match="CPU; the device is cuda") as err:
        apply_quantization(nn.Linear(2, 2), True, "cuda")
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def asr_exp(tmp_path_factory):
    return write_asr_exp(tmp_path_factory.mktemp("asr"), seed=3)


def test_speech2text_int8_scores_like_fp32(asr_exp):
    options = dict(beam_size=3, ctc_weight=0.3, maxlenratio=0.3, minlenratio=0.2)
    fp32 = Speech2Text(asr_exp["config"], asr_exp["model"], **options)
    int8 = Speech2Text(asr_exp["config"], asr_exp["model"], quantize_model=True, **options)
    assert not any(type(m) is nn.Linear for m in int8.model.modules())
    assert any(isinstance(m, Int8DynamicLinear) for m in int8.model.modules())
    wav = torch.from_numpy(tone(0.6))
    lengths = torch.tensor([wav.numel()])
    with torch.no_grad():
        enc32, _ = fp32.model.encode(wav[None], lengths)
        enc8, _ = int8.model.encode(wav[None], lengths)
        ctc32, ctc8 = fp32.model.ctc.log_softmax(enc32.hidden), int8.model.ctc.log_softmax(enc8.hidden)
    assert _relative_error(enc8.hidden, enc32.hidden) < 0.05
    assert float((ctc8 - ctc32).abs().max()) < 0.1
    # the decoder's next-token distributions along the fp32 hypothesis, teacher-forced on each side
    _, _, ids32, hyp32 = fp32(wav)[0]
    assert ids32, "no tokens: the comparison would mean nothing"
    prefix = hyp32.yseq[:-1][None]
    logp32, _ = fp32.beam_search.full_scorers["decoder"].batch_score(prefix, [None], enc32.hidden)
    logp8, _ = int8.beam_search.full_scorers["decoder"].batch_score(prefix, [None], enc8.hidden)
    finite = torch.isfinite(logp32)
    assert float((logp8[finite].exp() - logp32[finite].exp()).abs().max()) < 0.02
    assert int8(wav)[0][2], "the int8 model decodes"


def test_text2speech_int8_generates_nearly_the_fp32_mel(tmp_path: Path):
    exp = write_tts_exp(tmp_path / "tts")
    options = dict(vocoder="none", prenet_dropout=False, threshold=10.0, maxlenratio=2.0)
    fp32 = Text2Speech(exp["config"], exp["model"], **options)
    int8 = Text2Speech(exp["config"], exp["model"], quantize_model=True, **options)
    speaker = np.linspace(-1, 1, 8, dtype=np.float32)[None]
    want = fp32(["abc de"], spembs=speaker)[0].mel
    got = int8(["abc de"], spembs=speaker)[0].mel
    assert got.shape == want.shape and want.shape[0] > 4
    assert _relative_error(torch.as_tensor(got), torch.as_tensor(want)) < 0.05


def test_speech2label_int8_ranks_like_fp32(tmp_path: Path):
    exp = write_sid_exp(tmp_path / "sid", seed=5)
    fp32 = Speech2Label(exp["config"], exp["model"])
    int8 = Speech2Label(exp["config"], exp["model"], quantize_model=True)
    wav = tone(freq=330.0)
    want, got = fp32.top(wav, k=3), int8.top(wav, k=3)
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=0.02)


def test_asr_inference_takes_quantize_model(asr_exp, tmp_path: Path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", tone(0.6), 16000)
    (tmp_path / "wav.scp").write_text(f"utt1 {tmp_path / 'a.wav'}\n")
    outputs = {}
    for flag in ("false", "true"):
        out = tmp_path / f"out_{flag}"
        subprocess.run(
            [sys.executable, "-m", "espnet2_speecht5.bin.asr_inference", "--output_dir", str(out),
             "--data_path_and_name_and_type", f"{tmp_path / 'wav.scp'},speech,sound",
             "--asr_train_config", str(asr_exp["config"]), "--asr_model_file", str(asr_exp["model"]),
             "--beam_size", "2", "--maxlenratio", "0.3", "--minlenratio", "0.2", "--quantize_model", flag],
            check=True, capture_output=True, text=True)
        outputs[flag] = (out / "1best_recog" / "token").read_text().split()
    assert outputs["true"][0] == outputs["false"][0] == "utt1" and len(outputs["true"]) > 1


# ---------------------------------------------------------------- bf16_encoder
def _record_autocast(module: nn.Module) -> list:
    """A forward hook on ``module`` that records whether CPU bf16 autocast was on when it ran."""
    seen: list = []

    def hook(*_):
        seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)

    module.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("quantize", [False, True])
def test_speech2text_bf16_encoder_encodes_under_autocast_and_decodes_in_fp32(asr_exp, quantize: bool):
    options = dict(beam_size=3, ctc_weight=0.3, maxlenratio=0.3, minlenratio=0.2)
    fp32 = Speech2Text(asr_exp["config"], asr_exp["model"], **options)
    bf16 = Speech2Text(asr_exp["config"], asr_exp["model"], bf16_encoder=True, quantize_model=quantize, **options)
    encoder_seen = _record_autocast(bf16.model.net.encoder)
    decoder_seen = _record_autocast(bf16.model.net.decoder)
    wav = torch.from_numpy(tone(0.6))
    with torch.no_grad():
        want, got = fp32._encode(wav[None]), bf16._encode(wav[None])
    assert encoder_seen == [True]
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert 0 < _relative_error(got, want) < 0.05
    results = bf16(wav)
    assert results[0][2], "the bf16-encoder model decodes"
    assert decoder_seen and not any(decoder_seen), "the decoder must run outside autocast"
    batched = bf16.batch([wav, wav[:6000]])
    assert [r[2] for r in batched[0]] == [r[2] for r in results]


def test_speech2label_bf16_encoder_ranks_like_fp32(tmp_path: Path):
    exp = write_sid_exp(tmp_path / "sid", seed=5)
    fp32 = Speech2Label(exp["config"], exp["model"])
    bf16 = Speech2Label(exp["config"], exp["model"], bf16_encoder=True)
    seen = _record_autocast(bf16.model.net.encoder)
    wav = tone(freq=330.0)
    want, got = fp32.top(wav, k=3), bf16.top(wav, k=3)
    assert seen == [True]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=0.02)


def test_asr_inference_takes_bf16_encoder(asr_exp, tmp_path: Path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", tone(0.6), 16000)
    (tmp_path / "wav.scp").write_text(f"utt1 {tmp_path / 'a.wav'}\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.asr_inference", "--output_dir", str(out),
         "--data_path_and_name_and_type", f"{tmp_path / 'wav.scp'},speech,sound",
         "--asr_train_config", str(asr_exp["config"]), "--asr_model_file", str(asr_exp["model"]),
         "--beam_size", "2", "--maxlenratio", "0.3", "--minlenratio", "0.2", "--bf16_encoder", "true"],
        check=True, capture_output=True, text=True)  # fmt: skip
    assert "bf16_encoder: the speech encoder runs under torch.autocast(cpu, bfloat16)" in done.stderr
    tokens = (out / "1best_recog" / "token").read_text().split()
    assert tokens[0] == "utt1" and len(tokens) > 1
