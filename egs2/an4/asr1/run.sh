#!/usr/bin/env bash
# ASR smoke test on the mini AN4 subset (7 utterances); see ../README.md.
set -euo pipefail

./speecht5.sh \
    --task asr \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --local_data_opts "--task asr" \
    "$@"
