"""A recipe folder ready for stage 8 (training), written directly: no stages 1-7 to run first.

Eight utterances of the same length (0.3 s of noise; equal lengths, so that no padding makes a
half batch differ from its share of the full batch), the character token list of
test/asr/asr_helpers.py, shape files as stage 7 would leave them, and a training config of the
tiny network with every dropout, layerdrop and span masking off.
"""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import soundfile as sf
import yaml

from repo_testing import REPO_ROOT


def asr_helpers_constants(*names: str) -> List[Any]:
    """The values of module-level constants of test/asr/asr_helpers.py, read without importing it
    (importing it imports the model and ESPnet: about 12 s of CPU that the training runs need)."""
    tree = ast.parse((REPO_ROOT / "test" / "asr" / "asr_helpers.py").read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        else:
            continue
        if target in names:  # literals and dict(...) of literals only: no name but ``dict`` resolves
            found[target] = eval(
                compile(ast.Expression(value), "asr_helpers.py", "eval"), {"__builtins__": {}, "dict": dict}
            )
    return [found[name] for name in names]


TOKENS, NET_CONF = asr_helpers_constants("TOKENS", "NET_CONF")

SENTENCES = ["abc de", "bad ce", "cab ed", "dec ab", "ace bd", "bed ca", "ebc ad", "dab ec"]
SAMPLES = 4800  # 0.3 s at 16 kHz, every utterance

TRAIN_CONFIG: Dict = dict(
    net_conf=dict(
        NET_CONF,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        positional_dropout=0.0,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        speech_prenet_dropout=0.0,
        apply_masking=False,
    ),
    model_conf=dict(ctc_weight=0.3),
    # SGD without clipping: an update is linear in the gradient, so a wrongly scaled or
    # unsynchronised gradient changes the next epoch's loss (Adam and clipping would hide a scale).
    optim="sgd",
    optim_conf=dict(lr=0.002),
    grad_clip=1.0e6,
    batch_type="unsorted",  # batches in file order; ESPnet then shuffles the batch order by seed + epoch
    batch_size=4,  # the global batch: with N ranks each trains on 4 / N utterances of it
    max_epoch=2,
    num_workers=0,
    num_att_plot=0,
    use_tensorboard=False,
    use_matplotlib=False,
    seed=3,
    unused_parameters=True,  # the pre-net's mask embedding gets no gradient with masking off
)


def make_stage8_recipe(root: Path) -> Path:
    """Write the recipe under ``root`` and return its folder (run ``./run.sh --stage 8 --stop_stage 8``)."""
    recipe = root / "egs2" / "ddp" / "asr1"
    recipe.mkdir(parents=True)
    for name in ("speecht5.sh", "path.sh", "cmd.sh"):
        (recipe / name).symlink_to(REPO_ROOT / "egs2" / "TEMPLATE" / name)
    (recipe / "utils").symlink_to(REPO_ROOT / "utils")
    (recipe / "run.sh").write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        './speecht5.sh --task asr --train_set train --valid_set dev --test_sets dev "$@"\n'
    )
    (recipe / "run.sh").chmod(0o755)
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(yaml.safe_dump(TRAIN_CONFIG))
    tokens = recipe / "data" / "token_list" / "char" / "tokens.txt"
    tokens.parent.mkdir(parents=True)
    tokens.write_text("\n".join(TOKENS) + "\n")
    rng = np.random.default_rng(0)
    wav_dir = recipe / "wav"
    wav_dir.mkdir()
    wav_lines, text_lines = [], []
    for index, sentence in enumerate(SENTENCES):
        utt = f"utt{index}"
        path = wav_dir / f"{utt}.wav"
        sf.write(path, (0.1 * rng.standard_normal(SAMPLES)).astype(np.float32), 16000)
        wav_lines.append(f"{utt} {path}\n")
        text_lines.append(f"{utt} {sentence}\n")
    for dset, mode in (("train", "train"), ("dev", "valid")):
        dump = recipe / "dump" / "raw" / dset
        dump.mkdir(parents=True)
        (dump / "wav.scp").write_text("".join(wav_lines))
        (dump / "text").write_text("".join(text_lines))
        stats = recipe / "exp" / "asr_stats_char" / mode
        stats.mkdir(parents=True)
        (stats / "speech_shape").write_text("".join(f"utt{i} {SAMPLES}\n" for i in range(len(SENTENCES))))
        (stats / "text_shape.char").write_text(
            "".join(f"utt{i} {len(s)},{len(TOKENS)}\n" for i, s in enumerate(SENTENCES))
        )
    return recipe


def start_driver(recipe: Path, args: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start ``./run.sh args`` in a session of its own (so a test can kill all of it), output captured."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen(
        ["./run.sh", *args],
        cwd=recipe,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
