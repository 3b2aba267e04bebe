"""egs2/librispeech/pretrain1's configs are the official pre-training command (SPEC.md, "Pre-training")
translated: PretrainTask accepts them, builds the base network from them, and the numbers that make
up the command (updates, batches, objectives, optimiser) come out as the official ones."""

from __future__ import annotations

import math

import pytest

from espnet2_speecht5.tasks.pretrain import PretrainTask

from repo_testing import REPO_ROOT

CONF = REPO_ROOT / "egs2" / "librispeech" / "pretrain1" / "conf"
GPUS = 16  # run.sh: --num_nodes 2 --ngpu 8
OFFICIAL_GPU_BATCHES_PER_UPDATE = 32 * 2  # 32 GPUs, update-freq 2


def parse(config: str, tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", "a", "b", "<space>", "<mask>", "<sos/eos>"]) + "\n")
    parser = PretrainTask.get_parser()
    return parser.parse_args(["--config", str(CONF / config), "--token_list", str(tokens),
                              "--output_dir", str(tmp_path / "exp")])


@pytest.mark.parametrize("config, updates, warmup", [("train.yaml", 800_000, 64_000),
                                                      ("train_iter1.yaml", 250_000, 32_000)])
def test_schedule_and_batches_are_the_official_ones(tmp_path, config, updates, warmup):
    args = parse(config, tmp_path)
    batches_per_epoch = args.num_iters_per_epoch * (1 + args.text_batch_ratio)  # speech + text batches
    assert args.max_epoch * batches_per_epoch / args.accum_grad == updates
    assert args.scheduler == "piecewiselinearwarmuplr"
    assert args.scheduler_conf == {"warmup_steps_list": [0, warmup, updates], "warmup_lr_list": [0.0, 2e-4, 0.0]}
    assert args.optim == "adamw"
    assert args.optim_conf == {"lr": 2e-4, "betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.01}
    assert args.grad_clip == 5.0
    assert GPUS * args.accum_grad == OFFICIAL_GPU_BATCHES_PER_UPDATE
    assert args.batch_bins == GPUS * 1_400_000  # --max-tokens 1.4M per GPU
    assert args.text_batch_bins == pytest.approx(GPUS * 0.0086 * 1_400_000)  # --batch-ratio [1, 0.0086]
    assert args.max_speech_samples == 250_000


def test_objectives_and_network_are_the_official_ones(tmp_path):
    args = parse("train.yaml", tmp_path)
    model = PretrainTask.build_model(args)
    cfg = model.cfg
    assert (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers, cfg.encoder_heads) == (768, 12, 6, 12)
    assert cfg.max_relative_distance == 160 and cfg.max_text_positions == 600 and cfg.feature_grad_mult == 0.1
    assert (model.mask_prob, model.mask_length) == (0.8, 10)
    assert (model.text_mask_ratio, model.poisson_lambda, model.text_random_ratio) == (0.3, 3.5, 0.1)
    assert model.codebook_prob == 0.1 and model.bce_pos_weight == 5.0
    assert model.weights["feature_pen_weight"] == 10.0 and model.weights["diversity_weight"] == 0.1  # --loss-weights
    assert model.weights["unmasked_weight"] == 0.0
    assert model.prediction_head.temperature == 0.1
    assert model.prediction_head.label_embs.shape == (500, 256)  # 500 clusters, final_dim 256
    quantizer = model.quantizer
    assert (quantizer.groups, quantizer.entries) == (2, 100)
    # temperature 2 -> 0.5 at x0.999995 per update: it reaches 0.5 after ln(4) / -ln(0.999995) updates
    assert quantizer.temperature == 2.0
    floor = math.ceil(math.log(4) / -math.log(0.999995))
    quantizer.set_num_updates(floor - 1000)
    assert quantizer.temperature > 0.5
    quantizer.set_num_updates(floor)
    assert quantizer.temperature == 0.5
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) > 100_000_000
