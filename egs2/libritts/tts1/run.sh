#!/usr/bin/env bash
# SpeechT5 TTS fine-tuning on LibriTTS train-clean-100 + train-clean-360: the paper's setup
# (see ../README.md).  Not run by this project: it needs LibriTTS and several GPUs.
#
# The base network starts from the released pre-trained checkpoint, converted once with
#     python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net t2s \
#         --input speecht5_base.pt --output exp/speecht5_base_t2s.pth
# and loaded into the model's network (attribute "net") without its text embedding, because our
# character list is not the release's vocabulary (SPEECHT5_INIT_EXCLUDE: comma-separated key
# prefixes; empty: load every key).  SPEECHT5_PRETRAINED names another converted file; "none"
# trains from scratch.  An --init_param on the command line replaces all of this.
#
# Speaker x-vectors (stage 6): with LIBRITTS_XVECTORS set (db.sh), stage 1 links them under our
# utterance ids into data/xvector_npy and stage 6 reads them (--spk_source files).  Without them,
# pass --spk_source espnet_spk to train the speaker model of conf/train_spk.yaml on train_460.
#
# conf/train.yaml is sized for 8 GPUs (--ngpu 8).  With fewer, keep the batch per update:
#     ./run.sh --ngpu 4 --train_args "--batch_bins 12800000 --accum_grad 2 --num_iters_per_epoch 2000"
set -euo pipefail

. ./db.sh

pretrained=${SPEECHT5_PRETRAINED:-exp/speecht5_base_t2s.pth}
exclude=${SPEECHT5_INIT_EXCLUDE-text_prenet.embed_tokens}

# Stop early, with one line, when a stage that is due would miss its input.  The driver parses
# these options again; the last occurrence wins there as here.
stage=1 stop_stage=13 skip_train=false spk_source=files spk_files= own_init=false
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    value=${args[i + 1]:-}
    case "${args[i]}" in
        --stage) stage=${value} ;;
        --stop_stage) stop_stage=${value} ;;
        --skip_train) skip_train=${value} ;;
        --spk_source) spk_source=${value} ;;
        --spk_files) spk_files=${value} ;;
        --init_param) own_init=true ;;
    esac
done
due() { [ "${skip_train}" != true ] && [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

spk_opts=(--spk_source files)
[ -z "${LIBRITTS_XVECTORS}" ] || spk_opts+=(--spk_files data/xvector_npy)
if due 6 && [ "${spk_source}" = files ] && [ -z "${spk_files}" ] && [ -z "${LIBRITTS_XVECTORS}" ]; then
    echo "ERROR: stage 6 needs speaker x-vectors: set LIBRITTS_XVECTORS to a folder of <LibriTTS utterance id>.npy and rerun stage 1, or pass --spk_source espnet_spk (see ../README.md)" >&2
    exit 1
fi

init_opts=()
if [ "${pretrained}" != none ] && ! "${own_init}"; then
    if due 8 && [ ! -f "${pretrained}" ]; then
        echo "ERROR: the converted pre-trained checkpoint ${pretrained} does not exist: convert speecht5_base.pt first (see ../README.md), or set SPEECHT5_PRETRAINED=none to train from scratch" >&2
        exit 1
    fi
    # ESPnet's form <file>:<source prefix>:<destination attribute>[:<excluded key prefixes>]
    init_opts=(--init_param "${pretrained}::net${exclude:+:${exclude}}")
fi

./speecht5.sh \
    --task tts \
    --train_set train_460 \
    --valid_set dev_clean \
    --test_sets "dev_clean test_clean" \
    --token_type char \
    --max_wav_duration 30 \
    --ngpu 8 \
    --train_config conf/train.yaml \
    --inference_config conf/decode.yaml \
    --asr_exp ../../librispeech_100/asr1/exp/asr_train_char \
    --asr_decode_config ../../librispeech_100/asr1/conf/decode.yaml \
    "${spk_opts[@]}" \
    "${init_opts[@]}" \
    "$@"
