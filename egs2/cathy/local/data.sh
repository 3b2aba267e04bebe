#!/usr/bin/env bash
# Stage 1 of the cathy recipes: data/{train,dev,test} from one female US English voice reading
# the 1,132 CMU ARCTIC prompts (see ../README.md).  Run from egs2/cathy/<task>1:
#     local/data.sh --task asr     # text lower-cased, punctuation removed (apostrophes kept)
#     local/data.sh --task tts     # text as read, with case and punctuation
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=asr      # asr | tts
n_dev=50      # prompts in dev (taken just before the test prompts)
n_test=100    # prompts in test (the last ones in id order)
help_message="Usage: local/data.sh [--task asr|tts] [--n_dev N] [--n_test N]
Writes data/train, data/dev and data/test from \${CATHY_ARCTIC} (db.sh: ${CATHY_ARCTIC:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
case "${task}" in
    asr|tts) ;;
    *) echo "ERROR: local/data.sh: --task must be asr or tts, not '${task}'" >&2; exit 1 ;;
esac

if [ -z "${CATHY_ARCTIC}" ]; then
    log "CATHY_ARCTIC is empty (no ../shared/data/cathy_arctic): fetching ${CATHY_ARCTIC_URL} into $(pwd)/downloads"
    CATHY_ARCTIC=$(download_and_unpack.py "${CATHY_ARCTIC_URL}" downloads/cathy_arctic) || {
        echo "ERROR: could not download the cathy corpus from ${CATHY_ARCTIC_URL}: download it yourself and set CATHY_ARCTIC to its folder (see db.sh)" >&2
        exit 1
    }
    log "using the downloaded corpus ${CATHY_ARCTIC}"
elif [ ! -d "${CATHY_ARCTIC}" ]; then
    echo "ERROR: CATHY_ARCTIC=${CATHY_ARCTIC} is not a folder: set CATHY_ARCTIC to the cathy_arctic corpus (see db.sh)" >&2
    exit 1
fi

log "preparing data/{train,dev,test} for task ${task} from ${CATHY_ARCTIC}"
python local/prepare_cathy.py --corpus "${CATHY_ARCTIC}" --task "${task}" --out data \
    --n_dev "${n_dev}" --n_test "${n_test}"
log "done: data directories are in $(pwd)/data"
