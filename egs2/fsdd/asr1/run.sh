#!/usr/bin/env bash
# Spoken-digit ASR on FSDD (one word per utterance, 8 kHz audio resampled in stage 3); see ../README.md.
set -euo pipefail

./speecht5.sh \
    --task asr \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --local_data_opts "--task asr" \
    "$@"
