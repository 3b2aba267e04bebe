#!/usr/bin/env bash
# Multi-speaker TTS on the synthetic offline corpus.
set -euo pipefail

./speecht5.sh \
    --task tts \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --local_data_opts "--task tts" \
    "$@"
