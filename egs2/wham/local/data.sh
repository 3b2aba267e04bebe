#!/usr/bin/env bash
# Stage 1 of the WHAM! recipe: data/{train,dev,test} (WHAM!'s tr, cv, tt) for single-speaker
# speech enhancement: the noisy speaker-1 mixture (mix_single) in, speaker 1 alone (s1) out, and
# speaker 1's wsj0 transcript.  Run from egs2/wham/se1:
#     local/data.sh --task se                 # mode max (the default, see local/prepare_wham.py)
#     local/data.sh --task se --mode min
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=se      # se is the only task
mode=max     # WHAM!'s length mode: max (whole utterances: transcripts match) | min
help_message="Usage: local/data.sh [--task se] [--mode max|min]
Writes data/train, data/dev and data/test from \${WHAM} (db.sh: ${WHAM:-unset}), with text from \${WSJ0} (${WSJ0:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
if [ "${task}" != se ]; then
    echo "ERROR: local/data.sh: WHAM! supports only --task se, not '${task}'" >&2
    exit 1
fi
if [ -z "${WHAM}" ] || [ ! -d "${WHAM}" ]; then
    echo "ERROR: local/data.sh: set WHAM (db.sh) to the WHAM! folder that holds wav16k/${mode}/ (now '${WHAM}'); WHAM! needs the licensed wsj0 and cannot be downloaded by the recipe" >&2
    exit 1
fi
opts=(--wham "${WHAM}" --mode "${mode}" --out data)
if [ -n "${WSJ0}" ]; then
    opts+=(--wsj0 "${WSJ0}")
else
    log "WSJ0 is empty: no transcripts, so stage 10 reports PESQ and STOI but no CER or WER"
fi
log "preparing data/{train,dev,test} from ${WHAM} (mode ${mode})"
python local/prepare_wham.py "${opts[@]}"
log "done: data directories are in $(pwd)/data"
