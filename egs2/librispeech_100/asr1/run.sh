#!/usr/bin/env bash
# SpeechT5 ASR fine-tuning on LibriSpeech train-clean-100: the paper's setup (see ../README.md).
#
# The base network starts from the released pre-trained checkpoint, converted once with
#     python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net s2t \
#         --input speecht5_base.pt --output exp/speecht5_base_s2t.pth
# Everything but the text embedding is loaded into the model's network (attribute "net"); the
# embedding (tied with the output layer) is left out because our character list is not the
# release's vocabulary (SPEECHT5_INIT_EXCLUDE, a comma-separated list of key prefixes; empty:
# load every key, e.g. after local/remap_text_embedding.py).  SPEECHT5_PRETRAINED names another
# converted file; "none" trains from scratch (the paper's "without pre-training" baseline).
#
# conf/train.yaml is sized for 8 GPUs (--ngpu 8).  With fewer, keep the batch per update:
#     ./run.sh --ngpu 1 --train_args "--batch_bins 1600000 --accum_grad 16"
# Decoding with a Transformer LM: see ../README.md (--use_lm true, or --lm_file).
set -euo pipefail

pretrained=${SPEECHT5_PRETRAINED:-exp/speecht5_base_s2t.pth}
exclude=${SPEECHT5_INIT_EXCLUDE-text_decoder_prenet.embed_tokens}

# Stop early, with one line, when training would start without the converted checkpoint.
stage=1 stop_stage=13 skip_train=false
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --stage) stage=${args[i + 1]} ;;
        --stop_stage) stop_stage=${args[i + 1]} ;;
        --skip_train) skip_train=${args[i + 1]} ;;
    esac
done
init_opts=()
if [ "${pretrained}" != none ]; then
    if [ "${skip_train}" != true ] && [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ] && [ ! -f "${pretrained}" ]; then
        echo "ERROR: the converted pre-trained checkpoint ${pretrained} does not exist: convert speecht5_base.pt first (see ../README.md), or set SPEECHT5_PRETRAINED=none to train from scratch" >&2
        exit 1
    fi
    # ESPnet's form <file>:<source prefix>:<destination attribute>[:<excluded key prefixes>]
    if [ -n "${exclude}" ]; then
        init_opts=(--init_param "${pretrained}::net:${exclude}")
    else
        init_opts=(--init_param "${pretrained}::net")
    fi
fi

./speecht5.sh \
    --task asr \
    --train_set train_clean_100 \
    --valid_set dev_clean \
    --test_sets "dev_clean dev_other test_clean test_other" \
    --token_type char \
    --max_wav_duration 30 \
    --ngpu 8 \
    --inference_nj 8 \
    --train_config conf/train.yaml \
    --inference_config conf/decode.yaml \
    --lm_config conf/train_lm.yaml \
    "${init_opts[@]}" \
    "$@"
