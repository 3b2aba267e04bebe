#!/usr/bin/env bash
# Single-speaker English TTS on the cathy corpus (CMU ARCTIC prompts); see ../README.md.
# One voice, so the speaker "embedding" is a fixed vector (--spk_source lookup).
set -euo pipefail

./speecht5.sh \
    --task tts \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --local_data_opts "--task tts" \
    --spk_source lookup \
    "$@"
