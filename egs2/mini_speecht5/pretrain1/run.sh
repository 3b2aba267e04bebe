#!/usr/bin/env bash
# Joint speech/text pre-training on the synthetic corpus: its speech without transcripts, k-means
# labels of MFCC (stage 6), and generated text (see README.md).  Fine-tune ../asr1 from the zip of
# stage 12 with: (cd ../asr1 && ./run.sh --pretrained_model ../pretrain1/exp/<exp>/<exp>_<model>.zip),
# or measure what it is worth with utils/finetune_compare.sh (ASR on 10 % of the transcripts, from
# this model and from scratch).
set -euo pipefail

./speecht5.sh \
    --task pretrain \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --pretrain_text_set train_text \
    --n_clusters 100 \
    --local_data_opts "--task pretrain" \
    "$@"
