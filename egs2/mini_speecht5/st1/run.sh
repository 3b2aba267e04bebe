#!/usr/bin/env bash
# English speech to German text on the synthetic offline corpus (--tgt_lang fr for French).
set -euo pipefail

tgt_lang=de

./speecht5.sh \
    --task st \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --tgt_token_type char \
    --local_data_opts "--task st --tgt_lang ${tgt_lang}" \
    "$@"
