#!/usr/bin/env bash
# Does pre-training help?  Run from a pretrain recipe (egs2/<corpus>/pretrain1) after its stage 12:
#     utils/finetune_compare.sh                      # mini_speecht5: 3 seeds x {pre-trained, scratch}, about 45 min on 2 cores
#     utils/finetune_compare.sh --seeds "0"          # one pair, about 15 min
#     utils/finetune_compare.sh --asr_recipe ../../cathy/asr1 --num_utts 0 --seeds "0 1" \
#         --train_config ../../cathy/asr1/conf/train.yaml --decode_config ../../cathy/asr1/conf/decode.yaml
# It trains ASR on the training set of --asr_recipe (all of it, or --num_utts utterances drawn
# at random), once initialised from the pre-trained model and once from scratch, with the same
# config, token list, updates and seed, then decodes and scores the test set with each and writes
# ${workdir}/RESULTS.md (a table per seed, mean and spread) and ${workdir}/valid_acc.png.
#
# The work happens in ${workdir}, a recipe folder of its own (data/, dump/, exp/, one
# runs/<init>_seed<N>/ per run) whose db.sh and local/ are those of --asr_recipe, so that recipe's
# own folders are left alone.  A rerun skips the runs that were scored already and resumes the
# others from their last checkpoint.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (finetune_compare) $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pretrained_model=   # the zip of stage 12 (or a *.pth with config.yaml beside it); default: the newest exp/pretrain_*/*.zip
asr_recipe=../asr1  # the ASR recipe whose local/data.sh (with --local_data_opts) and db.sh give data/{train,dev,test}
local_data_opts="--task asr"
num_utts=60         # labelled training utterances drawn from its train set (mini: 10 % of the 600); 0: all of them
speed_perturb_factors=  # stage 2 of the driver on the labelled set, e.g. "0.9 1.0 1.1"
subset_seed=0       # which utterances (utils/subset_data_dir.py --random --seed)
seeds="0 1 2"       # training seeds; each gives one pre-trained and one scratch run
train_config=conf/finetune_asr.yaml
decode_config=../asr1/conf/decode.yaml
inference_model=valid.acc.best.pth
test_set=test
jobs=2              # runs trained at the same time (one CPU thread each)
workdir=exp/finetune_compare
help_message="Usage: utils/finetune_compare.sh [--pretrained_model ZIP] [--asr_recipe DIR] [--num_utts N] [--seeds \"0 1 2\"]
       [--speed_perturb_factors \"0.9 1.0 1.1\"] [--train_config YAML] [--decode_config YAML] [--jobs N] [--workdir DIR]
Run from a pretrain recipe folder once its stage 12 has packed the model."

. ./path.sh
. utils/parse_options.sh
[ $# -eq 0 ] || die "utils/finetune_compare.sh takes no positional arguments (got: $*)"

if [ -z "${pretrained_model}" ]; then
    pretrained_model=$(ls -t exp/pretrain_*/*.zip 2>/dev/null | head -n 1 || true)
    [ -n "${pretrained_model}" ] || die "no exp/pretrain_*/*.zip: run ./run.sh (stages 1-12) first, or give --pretrained_model"
fi
for f in "${pretrained_model}" "${train_config}" "${decode_config}"; do
    [ -f "${f}" ] || die "${f} does not exist"
done
[[ "${num_utts}" =~ ^[0-9]+$ ]] || die "--num_utts must be a whole number (0: all), not '${num_utts}'"
[ -f "${asr_recipe}/local/data.sh" ] || die "--asr_recipe ${asr_recipe} has no local/data.sh"
asr_recipe=$(readlink -f "${asr_recipe}")
[[ "${jobs}" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, not '${jobs}'"
[ -n "${seeds// /}" ] || die "--seeds is empty"
pretrained_model=$(readlink -f "${pretrained_model}")
train_config=$(readlink -f "${train_config}")
decode_config=$(readlink -f "${decode_config}")

# The work folder is a recipe folder: the driver and its helpers are links to this recipe's.
mkdir -p "${workdir}/runs"
for f in path.sh cmd.sh speecht5.sh utils; do
    ln -sfn "$(readlink -f "${f}")" "${workdir}/${f}"
done
for f in db.sh local; do
    ln -sfn "$(readlink -f "${asr_recipe}/${f}")" "${workdir}/${f}"
done
cd "${workdir}"
if [ "${num_utts}" -eq 0 ]; then train_set=train; else train_set=train${num_utts}; fi
driver=(./speecht5.sh --task asr --token_type char --valid_set dev --test_sets "${test_set}"
    --local_data_opts "${local_data_opts}" --speed_perturb_factors "${speed_perturb_factors}"
    --train_config "${train_config}" --inference_config "${decode_config}" --inference_model "${inference_model}" --inference_nj 1)

# Data: the full training set, then the labelled subset; dumps, the pre-trained model's token
# list (shared by both kinds of run) and the shapes of the subset.
if [ ! -f "exp/asr_stats_char/.done_${train_set}_seed${subset_seed}" ]; then
    log "data: stage 1 in $(pwd) (log: $(pwd)/exp/logs)"
    "${driver[@]}" --train_set train --stage 1 --stop_stage 1
    if [ "${train_set}" != train ]; then
        rm -rf "data/${train_set}"
        subset_data_dir.py --random "${num_utts}" --seed "${subset_seed}" data/train "data/${train_set}"
        log "data: data/${train_set}: ${num_utts} of $(wc -l <data/train/text) training utterances (seed ${subset_seed})"
    fi
    "${driver[@]}" --train_set "${train_set}" --pretrained_model "${pretrained_model}" --stage 2 --stop_stage 7
    touch "exp/asr_stats_char/.done_${train_set}_seed${subset_seed}"
else
    log "data: found data/${train_set} and its statistics from an earlier run"
fi

# One run: stages 8-10 with its own --expdir (so that stage logs do not mix), sharing the statistics.
run_one() {  # run_one <init> <seed>
    local init=$1 seed=$2 tag=${1}_seed${2} init_opts=()
    local expdir=runs/${tag}
    [ "${init}" = scratch ] || init_opts=(--pretrained_model "${pretrained_model}")
    mkdir -p "${expdir}"
    ln -sfn ../../exp/asr_stats_char "${expdir}/asr_stats_char"
    "${driver[@]}" --train_set "${train_set}" --expdir "${expdir}" --exp_tag "${tag}" --stage 8 --stop_stage 10 \
        --train_args "--seed ${seed}" "${init_opts[@]}" >"${expdir}/run.log" 2>&1
}

model_dir=decode_${inference_model%.pth}
pids=() tags=()
for seed in ${seeds}; do
    for init in pretrained scratch; do
        tag=${init}_seed${seed}
        if [ -f "runs/${tag}/asr_${tag}/${model_dir}/${test_set}/scores.json" ]; then
            log "run ${tag}: scored already (runs/${tag}/asr_${tag})"
            continue
        fi
        while [ "$(jobs -rp | wc -l)" -ge "${jobs}" ]; do sleep 5; done
        log "run ${tag}: training and scoring (log: $(pwd)/runs/${tag}/run.log)"
        run_one "${init}" "${seed}" &
        pids+=("$!") tags+=("${tag}")
    done
done
failed=""
for i in "${!pids[@]}"; do
    if wait "${pids[${i}]}"; then
        log "run ${tags[${i}]}: done"
    else
        failed+=" ${tags[${i}]}"
        log "run ${tags[${i}]}: FAILED; see $(pwd)/runs/${tags[${i}]}/run.log"
    fi
done
[ -z "${failed}" ] || die "runs failed:${failed}; rerun this script to resume them"

python -m espnet2_speecht5.bin.finetune_report --runs_dir runs --test_set "${test_set}" \
    --decode_dir "${model_dir}" --pretrained_model "${pretrained_model}" --train_config "${train_config}" \
    --train_set "data/${train_set}" --out RESULTS.md --plot valid_acc.png
log "report: $(pwd)/RESULTS.md, plot: $(pwd)/valid_acc.png"
