#!/usr/bin/env bash
# Stage 1 of the VoxCeleb1 recipe: data/{train,dev,test} from the official identification split
# (iden_split.txt: 1 = train, 2 = validation -> dev, 3 = test).  Run from egs2/voxceleb1/sid1:
#     local/data.sh --task sid                            # every utterance of the split
#     local/data.sh --task sid --max_utts_per_speaker 5   # a quick run: 5 per speaker and set
# VoxCeleb1 itself is never downloaded here (it needs registration); see db.sh and ../README.md.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=sid                 # sid (speaker identification) is the only task
max_utts_per_speaker=0   # keep the first N utterances of each speaker in each set (0: all)
help_message="Usage: local/data.sh [--task sid] [--max_utts_per_speaker N]
Writes data/train, data/dev and data/test from \${VOXCELEB1} (db.sh: ${VOXCELEB1:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
if [ "${task}" != sid ]; then
    echo "ERROR: local/data.sh: VoxCeleb1 supports only --task sid, not '${task}'" >&2
    exit 1
fi

if [ -z "${VOXCELEB1}" ] || [ ! -d "${VOXCELEB1}/wav" ]; then
    echo "ERROR: VOXCELEB1=${VOXCELEB1:-(empty)} has no wav/ folder: VoxCeleb1 needs registration at https://www.robots.ox.ac.uk/~vgg/data/voxceleb/; download and unpack it, then set VOXCELEB1 in db.sh (or the environment) to the folder holding wav/" >&2
    exit 1
fi

if [ -f "${VOXCELEB1}/iden_split.txt" ]; then
    split_file=${VOXCELEB1}/iden_split.txt
else
    split_file=downloads/iden_split.txt
    if [ ! -f "${split_file}" ]; then
        log "no ${VOXCELEB1}/iden_split.txt: fetching ${VOXCELEB1_SPLIT_URL} into ${split_file}"
        # fetch() writes <file>.part and renames it when complete; it raises DataError on failure.
        reason=$(python -c '
import sys
from pathlib import Path
from espnet2_speecht5.data.download import fetch
from espnet2_speecht5.runtime.errors import DataError
try:
    fetch(sys.argv[1], Path(sys.argv[2]))
except DataError as err:
    sys.exit(str(err))
' "${VOXCELEB1_SPLIT_URL}" "${split_file}" 2>&1) || {
            reason=${reason##*$'\n'}  # the last line: the reason, even after a traceback
            echo "ERROR: ${reason:-could not download ${VOXCELEB1_SPLIT_URL}}: download iden_split.txt yourself and put it in ${VOXCELEB1}/, or set VOXCELEB1_SPLIT_URL (see db.sh)" >&2
            exit 1
        }
    fi
fi

log "preparing data/{train,dev,test} from ${VOXCELEB1} and ${split_file}"
python local/prepare_voxceleb1.py --root "${VOXCELEB1}" --split_file "${split_file}" --outdir data \
    --max_utts_per_speaker "${max_utts_per_speaker}"
log "done: data directories are in $(pwd)/data"
