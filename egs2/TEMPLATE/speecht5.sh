#!/usr/bin/env bash
# speecht5.sh: the one stage driver for every SpeechT5 task (asr tts st vc sid se pretrain).
#
# Recipes link to this file and call it from their run.sh with the corpus's options.
# Each stage is one function below; the work itself is done by Python entry points in
# espnet2_speecht5/bin and by the tools in utils/, so that it can be tested on its own.
# Every stage writes its log to ${expdir}/logs/stage<N>_<name>.log.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (speecht5.sh:${BASH_LINENO[0]}) $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }

# ------------------------------------------------------------------------ options
# General
task=                 # asr | tts | st | vc | sid | se | pretrain
stage=1               # first stage to run
stop_stage=13         # last stage to run
skip_train=false      # skip the stages that only serve training (2, 5-8); stages 3-4 then handle the test sets only
skip_eval=false       # skip inference, scoring and the report (9-11)
nj=$(min "$(nproc)" 32)  # parallel jobs for data preparation
inference_nj=${nj}    # parallel jobs for inference
dumpdir=dump          # where stage 3 and 4 write
expdir=exp            # experiments and stage logs
# Data
local_data_opts=      # options passed to local/data.sh
train_set=            # name of the training set under data/
valid_set=            # name of the validation set
test_sets=            # names of the evaluation sets, space separated
speed_perturb_factors=  # e.g. "0.9 1.0 1.1"; empty: no speed perturbation (stage 2)
fs=16000              # sample rate of the dumped audio
skip_bad_audio=false  # stage 3: drop unreadable audio (listed in bad_audio.txt) instead of stopping
min_wav_duration=0.1  # stage 4: shortest utterance kept in training sets (seconds)
max_wav_duration=20   # stage 4: longest utterance kept in training sets (seconds)
# Tokens
token_type=char       # char | bpe | word
bpemode=unigram       # unigram | bpe, for token_type=bpe
nbpe=100              # vocabulary size for token_type=bpe
tgt_token_type=char   # st: target-language tokens (char | bpe | word)
tgt_bpemode=unigram
tgt_nbpe=100
pretrain_text_set=train_text  # pretrain: the text-only data directory for the text objectives
# Configs (used by the training and inference stages)
train_config=
inference_config=
lm_config=

help_message="Usage: $0 --task <task> --train_set <set> --valid_set <set> --test_sets '<sets>' [options]

Stages (the same numbers for every task):
   1 data preparation (local/data.sh)       8 training
   2 speed perturbation (optional)          9 inference
   3 dump audio to ${fs} Hz mono FLAC       10 scoring
   4 filter by duration and empty text     11 report (RESULTS.md)
   5 token list / speaker list             12 pack for the model zoo
   6 auxiliary targets                     13 publish
   7 statistics

Options (default in brackets):
  --task             asr|tts|st|vc|sid|se|pretrain
  --stage N, --stop_stage N   stages to run [1, 13]
  --skip_train true|false     [${skip_train}]   --skip_eval true|false [${skip_eval}]
  --nj N                      parallel data-preparation jobs [${nj}]
  --train_set, --valid_set, --test_sets   data/ set names
  --local_data_opts '...'     options for local/data.sh
  --speed_perturb_factors '0.9 1.0 1.1'   [none]
  --skip_bad_audio true|false [${skip_bad_audio}]
  --min_wav_duration S, --max_wav_duration S   [${min_wav_duration}, ${max_wav_duration}]
  --token_type char|bpe|word [${token_type}], --bpemode unigram|bpe, --nbpe N
  --tgt_token_type, --tgt_bpemode, --tgt_nbpe   target tokens for st
  --train_config, --inference_config, --lm_config   YAML files under conf/
  --dumpdir DIR [${dumpdir}], --expdir DIR [${expdir}]"

log "$0 $*"
. ./utils/parse_options.sh
. ./path.sh
. ./cmd.sh

case "${task}" in
    asr|tts|st|vc|sid|se|pretrain) ;;
    "") die "--task is required (asr|tts|st|vc|sid|se|pretrain)" ;;
    *) die "unknown --task '${task}' (asr|tts|st|vc|sid|se|pretrain)" ;;
esac
[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
[ -n "${test_sets}" ] || die "--test_sets is required"
case "${token_type}" in char|bpe|word) ;; *) die "--token_type must be char, bpe or word, not '${token_type}'" ;; esac

if [ -n "${speed_perturb_factors}" ]; then
    data_train_set=${train_set}_sp
else
    data_train_set=${train_set}
fi
if "${skip_train}"; then
    dump_sets="${test_sets}"
else
    dump_sets="${data_train_set} ${valid_set} ${test_sets}"
fi
# A set named in both --valid_set and --test_sets is prepared once.
dump_sets=$(tr ' ' '\n' <<<"${dump_sets}" | awk 'NF && !seen[$0]++' | tr '\n' ' ')

token_list_dir=data/token_list
case "${token_type}" in
    bpe) token_dir=${token_list_dir}/bpe_${bpemode}${nbpe} ;;
    *) token_dir=${token_list_dir}/${token_type} ;;
esac
case "${tgt_token_type}" in
    bpe) tgt_token_dir=${token_list_dir}/tgt_bpe_${tgt_bpemode}${tgt_nbpe} ;;
    *) tgt_token_dir=${token_list_dir}/tgt_${tgt_token_type} ;;
esac

# Text files that must be non-empty for each task (stage 4 drops utterances without them).
case "${task}" in
    asr|tts) text_files="text" ;;
    st) text_files="text text.tgt" ;;
    *) text_files="" ;;
esac

skip() { log "stage $1: skipped: $2"; }
not_implemented() { die "stage $1 is not implemented for task ${task}"; }
require() {  # require <path> <stage that makes it>
    [ -e "$1" ] || die "$1 does not exist: run stage $2 first (--stage $2)"
}

# ------------------------------------------------------------------------ stages
stage_1_data() {
    log "stage 1: data preparation: local/data.sh ${local_data_opts}"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
    local dset
    for dset in ${train_set} ${valid_set} ${test_sets}; do
        require "data/${dset}" 1
        validate_data_dir.py --task "${task}" "data/${dset}"
    done
    log "stage 1: data directories are in $(pwd)/data"
}

stage_2_augment() {
    if "${skip_train}"; then skip 2 "--skip_train true"; return; fi
    if [ -z "${speed_perturb_factors}" ]; then skip 2 "no --speed_perturb_factors"; return; fi
    require "data/${train_set}" 1
    log "stage 2: speed perturbation ${speed_perturb_factors}: data/${train_set} -> data/${data_train_set}"
    python -m espnet2_speecht5.bin.speed_perturb --factors "${speed_perturb_factors}" \
        "data/${train_set}" "data/${data_train_set}"
}

dump_one_set() {  # dump_one_set <set>
    local dset=$1 src=data/$1 out=${dumpdir}/raw/org/$1
    require "${src}/wav.scp" 1
    validate_data_dir.py --task "${task}" "${src}"
    local n _nj scp name logdir=${out}/logs
    n=$(wc -l <"${src}/wav.scp")
    _nj=$(min "${nj}" "${n}")
    mkdir -p "${logdir}"
    rm -rf "${out}/split${_nj}"
    for scp in wav.scp wav_tgt.scp; do
        [ -f "${src}/${scp}" ] || continue
        name=${scp%.scp}
        split_scp.py --num_splits "${_nj}" --out_pattern "${out}/split${_nj}/${name}.JOB.scp" "${src}/${scp}"
        log "stage 3: ${src}/${scp}: ${n} utterances in ${_nj} jobs (logs: ${logdir}/dump_${name}.*.log)"
        ${train_cmd} JOB=1:"${_nj}" "${logdir}/dump_${name}.JOB.log" \
            python -m espnet2_speecht5.bin.dump_audio convert --fs "${fs}" \
                --in_scp "${out}/split${_nj}/${name}.JOB.scp" --outdir "${out}/jobs/${name}/JOB"
    done
    python -m espnet2_speecht5.bin.dump_audio merge --fs "${fs}" --skip_bad_audio "${skip_bad_audio}" \
        --src "${src}" --jobs_dir "${out}/jobs" --nj "${_nj}" --outdir "${out}"
}

stage_3_dump() {
    local dset
    for dset in ${dump_sets}; do
        dump_one_set "${dset}"
    done
    log "stage 3: dumped audio is in $(pwd)/${dumpdir}/raw/org"
}

stage_4_filter() {
    local dset duration
    for dset in ${dump_sets}; do
        require "${dumpdir}/raw/org/${dset}/wav.scp" 3
        # Evaluation sets keep every length, so that scores stay comparable.
        duration=false
        if [ "${dset}" = "${data_train_set}" ] || [ "${dset}" = "${valid_set}" ]; then duration=true; fi
        python -m espnet2_speecht5.bin.filter_data --fs "${fs}" \
            --min_duration "${min_wav_duration}" --max_duration "${max_wav_duration}" \
            --filter_duration "${duration}" --text_files "${text_files}" \
            "${dumpdir}/raw/org/${dset}" "${dumpdir}/raw/${dset}"
    done
    log "stage 4: filtered sets are in $(pwd)/${dumpdir}/raw (see filter_report.txt in each)"
}

make_token_list() {  # make_token_list <type> <bpemode> <nbpe> <text file> <outdir>
    local type=$1
    [ "${type}" = bpe ] && type=$2
    python -m espnet2_speecht5.bin.make_token_list --token_type "${type}" --nbpe "$3" \
        --text_file "$4" --outdir "$5"
}

stage_5_tokens() {
    if "${skip_train}"; then skip 5 "--skip_train true"; return; fi
    local train_dump=${dumpdir}/raw/${data_train_set}
    case "${task}" in
        asr|tts)
            require "${train_dump}/text" 4
            make_token_list "${token_type}" "${bpemode}" "${nbpe}" "${train_dump}/text" "${token_dir}" ;;
        st)
            require "${train_dump}/text.tgt" 4
            make_token_list "${token_type}" "${bpemode}" "${nbpe}" "${train_dump}/text" "${token_dir}"
            make_token_list "${tgt_token_type}" "${tgt_bpemode}" "${tgt_nbpe}" "${train_dump}/text.tgt" "${tgt_token_dir}" ;;
        sid)
            require "${train_dump}/utt2spk" 4
            python -m espnet2_speecht5.bin.make_token_list --token_type spk \
                --utt2spk "${train_dump}/utt2spk" --outdir "${token_list_dir}/spk" ;;
        pretrain)
            require "data/${pretrain_text_set}/text" 1
            make_token_list "${token_type}" "${bpemode}" "${nbpe}" "data/${pretrain_text_set}/text" "${token_dir}" ;;
        vc|se)
            skip 5 "task ${task} has no text output" ;;
    esac
    log "stage 5: token lists are in $(pwd)/${token_list_dir}"
}

stage_6_aux() {
    case "${task}" in
        asr|st|se|sid) skip 6 "task ${task} uses no auxiliary targets" ;;
        *) not_implemented 6 ;;
    esac
}
stage_7_stats() { not_implemented 7; }
stage_8_train() { not_implemented 8; }
stage_9_inference() { not_implemented 9; }
stage_10_score() { not_implemented 10; }
stage_11_report() { not_implemented 11; }
stage_12_pack() { not_implemented 12; }
stage_13_publish() { not_implemented 13; }

# ------------------------------------------------------------------------ main
stage_names=(_ data augment dump filter tokens aux stats train inference score report pack publish)
train_only_stages=" 6 7 8 "
eval_stages=" 9 10 11 "
mkdir -p "${expdir}/logs"
start_time=$(date +%s)
for n in $(seq "${stage}" "${stop_stage}"); do
    [ "${n}" -ge 1 ] && [ "${n}" -le 13 ] || die "stage ${n} does not exist (stages are 1 to 13)"
    name=${stage_names[${n}]}
    if "${skip_train}" && [[ "${train_only_stages}" == *" ${n} "* ]]; then skip "${n}" "--skip_train true"; continue; fi
    if "${skip_eval}" && [[ "${eval_stages}" == *" ${n} "* ]]; then skip "${n}" "--skip_eval true"; continue; fi
    stage_log=${expdir}/logs/stage${n}_${name}.log
    log "stage ${n} (${name}) starts; log: ${stage_log}"
    # The stage runs in a subshell with errexit of its own, so that its output goes to the
    # terminal and to its log, and its first failing command stops it.
    set +e
    ( set -e; "stage_${n}_${name}" ) 2>&1 | tee "${stage_log}" >&2
    rc=${PIPESTATUS[0]}
    set -e
    if [ "${rc}" -ne 0 ]; then
        log "stage ${n} (${name}) failed; its log is ${stage_log}"
        exit "${rc}"
    fi
done
log "finished stages ${stage}-${stop_stage} of task ${task} in $(( $(date +%s) - start_time )) s"
log "outputs: data in $(pwd)/data, dumps in $(pwd)/${dumpdir}/raw, token lists in $(pwd)/${token_list_dir}, logs in $(pwd)/${expdir}/logs"
