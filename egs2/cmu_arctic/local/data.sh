#!/usr/bin/env bash
# Stage 1 of the CMU ARCTIC recipe: data/{train,dev,test} for parallel voice conversion, split by
# prompt so that no sentence is in two sets (see ../README.md).  Run from egs2/cmu_arctic/vc1:
#     local/data.sh --task vc                                  # the paper's setup (defaults below)
#     local/data.sh --task vc --train_pairs bdl:slt,clb:slt --test_pairs bdl:slt
# When CMU_ARCTIC (db.sh) is empty, the speakers the pairs need are downloaded from
# festvox.org into downloads/ first.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=vc                     # vc is the only task
speakers=bdl,clb,rms,slt    # the speakers that "all" pairs up (the paper's four)
train_pairs=all             # "all" (every ordered pair of --speakers: 12) or "src:tgt,src:tgt,..."
dev_pairs=                  # as --train_pairs; empty: the train pairs
test_pairs=bdl:slt,clb:slt  # the paper's two reported directions
num_dev=100                 # prompts in dev (the num_dev before the test prompts)
num_test=100                # prompts in test (the last ones in byte order)
help_message="Usage: local/data.sh [--task vc] [--speakers a,b,...] [--train_pairs all|src:tgt,...]
    [--dev_pairs all|src:tgt,...] [--test_pairs all|src:tgt,...] [--num_dev N] [--num_test N]
Writes data/train, data/dev and data/test from \${CMU_ARCTIC} (db.sh: ${CMU_ARCTIC:-unset, download})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
if [ "${task}" != vc ]; then
    echo "ERROR: local/data.sh: CMU ARCTIC supports only --task vc, not '${task}'" >&2
    exit 1
fi

prepare_opts=(--speakers "${speakers}" --train_pairs "${train_pairs}" --dev_pairs "${dev_pairs}"
    --test_pairs "${test_pairs}" --num_dev "${num_dev}" --num_test "${num_test}")

if [ -z "${CMU_ARCTIC}" ]; then
    # Only the speakers that the pairs name, one archive each, each unpacked once.
    needed=$(python local/prepare_cmu_arctic.py --list_speakers "${prepare_opts[@]}")
    mkdir -p downloads/cmu_arctic
    for spk in ${needed}; do
        url=${CMU_ARCTIC_URL}/cmu_us_${spk}_arctic-0.95-release.tar.bz2
        log "CMU_ARCTIC is empty: fetching ${url}"
        errors=downloads/cmu_arctic/.${spk}.stderr
        if ! root=$(download_and_unpack.py --expect etc/txt.done.data "${url}" "downloads/cmu_arctic_${spk}" 2>"${errors}"); then
            reason=$(grep -v '(download_and_unpack)' "${errors}" | tail -n 1 || true)
            reason=${reason#ERROR: }
            echo "ERROR: ${reason:-could not download ${url}}: download cmu_us_${spk}_arctic yourself, unpack it in one folder with the other speakers and set CMU_ARCTIC to that folder (see db.sh)" >&2
            exit 1
        fi
        rm -f "${errors}"
        ln -sfn "${root}" "downloads/cmu_arctic/cmu_us_${spk}_arctic"
    done
    CMU_ARCTIC=$(pwd)/downloads/cmu_arctic
    log "using the downloaded corpus ${CMU_ARCTIC}"
elif [ ! -d "${CMU_ARCTIC}" ]; then
    echo "ERROR: CMU_ARCTIC=${CMU_ARCTIC} is not a folder: set CMU_ARCTIC to the folder that holds cmu_us_<spk>_arctic/ (see db.sh), or empty to download" >&2
    exit 1
fi

log "preparing data/{train,dev,test} from ${CMU_ARCTIC}"
python local/prepare_cmu_arctic.py --corpus "${CMU_ARCTIC}" --out data "${prepare_opts[@]}"
log "done: data directories are in $(pwd)/data"
