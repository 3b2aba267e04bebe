#!/usr/bin/env bash
# Joint speech/text pre-training on the synthetic corpus's speech (no transcripts) and generated text.
set -euo pipefail

./speecht5.sh \
    --task pretrain \
    --train_set train \
    --valid_set dev \
    --test_sets "dev" \
    --token_type char \
    --pretrain_text_set train_text \
    --local_data_opts "--task pretrain" \
    "$@"
