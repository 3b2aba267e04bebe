#!/usr/bin/env bash
# ASR on the synthetic offline corpus: the README's main job.
set -euo pipefail

./speecht5.sh \
    --task asr \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --inference_model valid.acc.best.pth \
    --local_data_opts "--task asr" \
    "$@"
