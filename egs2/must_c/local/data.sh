#!/usr/bin/env bash
# Stage 1 of the MuST-C recipe: data/<split>.en-<lang> for train, dev, tst-COMMON and tst-HE, with
# Kaldi segments cut out of the per-talk recordings (see local/prepare_must_c.py). Run from
# egs2/must_c/st1:
#     local/data.sh --tgt_lang de        # or fr
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=st       # st is the only task
tgt_lang=de   # de | fr (the paper's pairs); any en-<lang> folder of the release works
help_message="Usage: local/data.sh [--task st] [--tgt_lang de|fr]
Writes data/{train,dev,tst-COMMON,tst-HE}.en-<lang> from \${MUST_C} (db.sh: ${MUST_C:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
if [ "${task}" != st ]; then
    echo "ERROR: local/data.sh: MuST-C supports only --task st, not '${task}'" >&2
    exit 1
fi
if [ -z "${MUST_C}" ] || [ ! -d "${MUST_C}/en-${tgt_lang}/data" ]; then
    echo "ERROR: local/data.sh: set MUST_C (db.sh) to the MuST-C folder that holds en-${tgt_lang}/data/ (now '${MUST_C}'); MuST-C needs a licence form and cannot be downloaded by the recipe" >&2
    exit 1
fi
log "preparing data/*.en-${tgt_lang} from ${MUST_C}/en-${tgt_lang}"
python local/prepare_must_c.py --must_c "${MUST_C}" --tgt_lang "${tgt_lang}" --out data
log "done: data directories are in $(pwd)/data"
