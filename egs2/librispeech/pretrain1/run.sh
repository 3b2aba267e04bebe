#!/usr/bin/env bash
# SpeechT5 base joint pre-training on LibriSpeech 960 h speech and the LibriSpeech LM text, with
# HuBERT's two label iterations (see ../README.md):
#   iteration 1: k-means of MFCC (100 clusters), pre-training with conf/train_iter1.yaml -> exp/pretrain_iter1
#   iteration 2: k-means of encoder block 6 of that model (500 clusters), conf/train.yaml -> exp/pretrain_iter2
# Sized for 2 nodes x 8 GPUs (a Slurm job, utils/slurm.py); options after ./run.sh go to both
# iterations, e.g. ./run.sh --num_nodes 1 --ngpu 8 --train_args "--accum_grad 8".
# SPEECHT5_ITERATIONS="2" runs the second iteration only (after the first one has finished).
set -euo pipefail

iterations=${SPEECHT5_ITERATIONS:-1 2}
common=(
    --task pretrain
    --train_set train_960
    --valid_set dev_clean
    --test_sets "dev_clean dev_other"
    --token_type char
    --pretrain_text_set train_960_text
    --max_wav_duration 35
    --num_nodes 2
    --ngpu 8
    --inference_nj 8
    --inference_ngpu 1
    --cluster_args "--fit_fraction 0.1 --max_fit_frames 2000000"
)
for iteration in ${iterations}; do
    case "${iteration}" in
        1) ./speecht5.sh "${common[@]}" --cluster_iteration 1 --n_clusters 100 \
               --train_config conf/train_iter1.yaml --exp_tag iter1 "$@" ;;
        2) ./speecht5.sh "${common[@]}" --stage 6 --cluster_iteration 2 --n_clusters 500 \
               --cluster_feature_model exp/pretrain_iter1/valid.acc_mlm.ave.pth --cluster_feature_layer 6 \
               --cluster_args "--fit_fraction 0.1 --max_fit_frames 2000000 --device cuda" \
               --train_config conf/train.yaml --exp_tag iter2 "$@" ;;
        *) echo "ERROR: SPEECHT5_ITERATIONS holds '${iteration}'; the iterations are 1 and 2" >&2; exit 1 ;;
    esac
done
