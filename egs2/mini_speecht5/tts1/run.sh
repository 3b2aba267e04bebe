#!/usr/bin/env bash
# Multi-speaker TTS on the synthetic offline corpus (see ../README.md).
# Stage 10 transcribes the synthesis with the ASR model of ../asr1: run that recipe first
# (or pass --asr_exp DIR / --asr_model_zip ZIP).
set -euo pipefail

./speecht5.sh \
    --task tts \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --local_data_opts "--task tts" \
    --train_threads 2 \
    --score_args "--f0_method dio" \
    "$@"
