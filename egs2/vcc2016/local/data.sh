#!/usr/bin/env bash
# Stage 1 of the VCC 2016 recipes: data/{train,dev,test} from the VCC 2016 training speakers,
# split by sentence so that no sentence is in two sets (see ../README.md).  Run from
# egs2/vcc2016/<task>1:
#     local/data.sh --task vc      # source -> target pairs: wav.scp, wav_tgt.scp, utt2spk_tgt
#     local/data.sh --task sid     # every recording, labelled with its speaker
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=vc              # vc | sid
vc_pairs=all         # vc: "all" (every S* speaker to every T* speaker) or "SF1:TM1,SM1:TF1,..."
dev_fraction=0.1     # share of the sentences in dev
test_fraction=0.1    # share of the sentences in test (the last sentence numbers)
help_message="Usage: local/data.sh [--task vc|sid] [--vc_pairs all|SF1:TM1,SM1:TF1,...] [--dev_fraction F] [--test_fraction F]
Writes data/train, data/dev and data/test from \${VCC2016} (db.sh: ${VCC2016:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
case "${task}" in
    vc|sid) ;;
    *) echo "ERROR: local/data.sh: --task must be vc or sid, not '${task}'" >&2; exit 1 ;;
esac

if [ -z "${VCC2016}" ]; then
    log "VCC2016 is empty (no ../shared/data/vcc2016): fetching ${VCC2016_URL} into $(pwd)/downloads"
    VCC2016=$(download_and_unpack.py "${VCC2016_URL}" downloads/vcc2016) || {
        echo "ERROR: could not download VCC 2016 from ${VCC2016_URL}: download vcc2016_training.zip yourself (doi:10.7488/ds/1575), unzip it and set VCC2016 to its folder (see db.sh)" >&2
        exit 1
    }
    log "using the downloaded corpus ${VCC2016}"
elif [ ! -d "${VCC2016}" ]; then
    echo "ERROR: VCC2016=${VCC2016} is not a folder: set VCC2016 to the folder that holds vcc2016_training/ (see db.sh)" >&2
    exit 1
fi

log "preparing data/{train,dev,test} for task ${task} from ${VCC2016}"
python local/prepare_vcc2016.py --corpus "${VCC2016}" --task "${task}" --out data --vc_pairs "${vc_pairs}" \
    --dev_fraction "${dev_fraction}" --test_fraction "${test_fraction}"
log "done: data directories are in $(pwd)/data"
