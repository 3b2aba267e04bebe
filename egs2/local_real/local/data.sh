#!/usr/bin/env bash
# Stage 1 of local_real/pretrain1: the real speech and English text at hand, for pre-training
# (see ../README.md).  Run from egs2/local_real/pretrain1:
#     local/data.sh
# data/train and data/dev: speech only; data/train_text and data/dev_text: one sentence a line.
# The cathy prompts of cathy's dev and test sets (egs2/cathy, the same split options) stay out of
# both, as audio and as text.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

n_dev=50      # cathy prompts in cathy's dev set (as egs2/cathy/local/data.sh)
n_test=100    # cathy prompts in cathy's test set
help_message="Usage: local/data.sh [--n_dev N] [--n_test N]
Writes data/{train,dev,train_text,dev_text} from \${LOCAL_REAL_DATA} (db.sh: ${LOCAL_REAL_DATA:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
if [ -z "${LOCAL_REAL_DATA}" ] || [ ! -d "${LOCAL_REAL_DATA}" ]; then
    echo "ERROR: LOCAL_REAL_DATA='${LOCAL_REAL_DATA}' is not a folder: set it to a copy of ../shared/data (see db.sh)" >&2
    exit 1
fi
cathy_local=$(cd "$(dirname "$(readlink -f "$0")")/../../cathy/local" && pwd)

log "cathy's split (${n_dev} dev and ${n_test} test prompts held out) from ${CATHY_ARCTIC} into data/cathy"
python "${cathy_local}/prepare_cathy.py" --corpus "${CATHY_ARCTIC}" --task asr --out data/cathy \
    --n_dev "${n_dev}" --n_test "${n_test}"

log "preparing data/{train,dev,train_text,dev_text} from ${LOCAL_REAL_DATA}"
python local/prepare_local_real.py --data_root "${LOCAL_REAL_DATA}" --cathy_train data/cathy/train \
    --exclude_text data/cathy/dev/text data/cathy/test/text --out data
log "done: data directories are in $(pwd)/data"
