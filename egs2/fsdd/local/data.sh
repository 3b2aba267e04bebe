#!/usr/bin/env bash
# Stage 1 of the FSDD recipes: data/{train,dev,test} from the Free Spoken Digit Dataset, split
# by recording index (0-4 test, 5-9 dev, 10-49 train; see ../README.md).  The audio stays at
# 8 kHz here; stage 3 resamples it.  Run from egs2/fsdd/<task>1:
#     local/data.sh --task asr     # text: the digit as a word (zero ... nine)
#     local/data.sh --task sid     # no text; utt2spk is the label
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=sid      # sid | asr
help_message="Usage: local/data.sh [--task sid|asr]
Writes data/train, data/dev and data/test from \${FSDD} (db.sh: ${FSDD:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
case "${task}" in
    asr|sid) ;;
    *) echo "ERROR: local/data.sh: --task must be sid or asr, not '${task}'" >&2; exit 1 ;;
esac

if [ -z "${FSDD}" ]; then
    log "FSDD is empty (no ../shared/data/fsdd): fetching ${FSDD_URL} into $(pwd)/downloads"
    FSDD=$(download_and_unpack.py --expect recordings "${FSDD_URL}" downloads/fsdd) || {
        echo "ERROR: could not download FSDD from ${FSDD_URL}: clone https://github.com/Jakobovski/free-spoken-digit-dataset yourself and set FSDD to its folder (see db.sh)" >&2
        exit 1
    }
    log "using the downloaded corpus ${FSDD}"
elif [ ! -d "${FSDD}" ]; then
    echo "ERROR: FSDD=${FSDD} is not a folder: set FSDD to the folder that holds recordings/ (see db.sh)" >&2
    exit 1
fi

log "preparing data/{train,dev,test} for task ${task} from ${FSDD}"
python local/prepare_fsdd.py --corpus "${FSDD}" --task "${task}" --out data
log "done: data directories are in $(pwd)/data"
