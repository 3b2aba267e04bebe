#!/usr/bin/env bash
# Stage 1 of the mini_speecht5 recipes: generate the offline corpus if needed (espeak-ng voices
# reading template sentences, noisy copies with generated noise), then write data/{train,dev,test}
# for one task (and data/train_text for pre-training).  Run from egs2/mini_speecht5/<task>1:
#     local/data.sh --task asr            # also tts, st, vc, sid, se, pretrain
#     local/data.sh --task st --tgt_lang fr
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=asr      # asr | tts | st | vc | sid | se | pretrain
seed=0        # corpus seed (a different seed regenerates the corpus)
tgt_lang=de   # st: de | fr
vc_train_pairs=listed  # vc: listed (vc_pairs.tsv, 2 per sentence) | all (every ordered pair of a sentence's readers)
se_train_copies=0      # se: more noisy copies of each training utterance (generated noise, other SNRs)
nj=$(nproc 2>/dev/null || echo 2)  # parallel espeak-ng jobs
help_message="Usage: local/data.sh [--task asr|tts|st|vc|sid|se|pretrain] [--seed N] [--tgt_lang de|fr] [--vc_train_pairs listed|all] [--se_train_copies N] [--nj N]
Generates the corpus in \${MINI_SPEECHT5} (db.sh: ${MINI_SPEECHT5}) unless it is there, then writes data/."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
case "${task}" in
    asr|tts|st|vc|sid|se|pretrain) ;;
    *) echo "ERROR: local/data.sh: --task must be asr, tts, st, vc, sid, se or pretrain, not '${task}'" >&2; exit 1 ;;
esac
case "${tgt_lang}" in
    de|fr) ;;
    *) echo "ERROR: local/data.sh: --tgt_lang must be de or fr, not '${tgt_lang}'" >&2; exit 1 ;;
esac

# make_mini_corpus returns at once when ${MINI_SPEECHT5}/.done records the same settings.
if [ -f "${MINI_SPEECHT5}/.done" ]; then
    log "checking the corpus in ${MINI_SPEECHT5} (seed ${seed})"
else
    log "generating the corpus into ${MINI_SPEECHT5} (seed ${seed}, ${nj} jobs)"
fi
python -m espnet2_speecht5.bin.make_mini_corpus --outdir "${MINI_SPEECHT5}" --seed "${seed}" --nj "${nj}"

log "preparing data/{train,dev,test} for task ${task} from ${MINI_SPEECHT5}"
noise_opts=()
if [ "${task}" = se ]; then  # the extra test set with recorded noise
    if [ -z "${MINI_SPEECHT5_NOISE}" ] || [ ! -d "${MINI_SPEECHT5_NOISE}" ]; then
        echo "ERROR: local/data.sh: se needs noise recordings for test_realnoise: set MINI_SPEECHT5_NOISE (db.sh) to a folder with the files of local/real_noise.list (now '${MINI_SPEECHT5_NOISE}')" >&2
        exit 1
    fi
    noise_opts=(--real_noise_list local/real_noise.list --real_noise_dir "${MINI_SPEECHT5_NOISE}"
        --se_train_copies "${se_train_copies}")
fi
python local/prepare_mini.py --corpus "${MINI_SPEECHT5}" --task "${task}" --tgt_lang "${tgt_lang}" \
    --vc_train_pairs "${vc_train_pairs}" "${noise_opts[@]}" --out data
log "done: data directories are in $(pwd)/data"
