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
pretrain_text_set=train_text  # pretrain: the text-only data directory for the text objectives (data/<set>/text);
                              # the held-out text of a valid or test set <set> is data/<set>_text/text
# Cluster labels (stage 6; pretrain)
n_clusters=100        # k-means clusters (the model's num_clusters follows it)
cluster_iteration=1   # 1: cluster MFCC; >= 2: cluster an encoder layer of --cluster_feature_model (HuBERT's iterations)
cluster_feature_model=  # iteration >= 2: a pre-training checkpoint with config.yaml beside it
cluster_feature_layer=6 # iteration >= 2: the encoder block of its features (from 1)
cluster_args=         # extra options for espnet2_speecht5.bin.make_cluster_labels (--fit_fraction, --max_fit_frames, --seed, --device)
# Fine-tuning from a pre-training model (asr, tts)
pretrained_model=     # the zip of a pretrain recipe's stage 12 (or its *.pth, config.yaml beside it):
                      # stage 5 takes its token list, stage 8 initialises the network from it
# Speaker embeddings (stage 6; tts, vc)
spk_source=espnet_spk # espnet_spk: an ESPnet x-vector model (trained here, or --spk_model) | files | lookup
spk_files=            # spk_source=files: a Kaldi xvector.scp/ark or a folder of <utt>.npy
spk_model=            # spk_source=espnet_spk: a trained ESPnet speaker model (folder or zip) instead of training one
spk_config=conf/train_spk.yaml  # spk_source=espnet_spk: config of the speaker model trained in stage 6
spk_average=false     # true: every utterance gets its speaker's mean embedding
xvector_dir=          # where stage 6 writes the embeddings; default ${dumpdir}/xvector
# TTS scoring (stage 10): the ASR model that transcribes the synthesised speech
asr_exp=              # an ASR experiment folder (config.yaml + model); default: ../asr1/exp/asr_train_<token tag>
asr_model=valid.acc.best.pth  # the checkpoint in --asr_exp
asr_model_zip=        # or a packed ASR model (zip)
asr_decode_config=    # decoding config for it; default ../asr1/conf/decode.yaml if present
score_args=           # extra options for espnet2_speecht5.bin.score_tts (e.g. "--f0_method dio")
# Configs (used by the training and inference stages); empty: conf/train.yaml, conf/decode.yaml, conf/train_lm.yaml
train_config=
inference_config=
lm_config=
# Statistics and training (stages 7-8)
stats_nj=${nj}        # parallel jobs for the statistics
ngpu=0                # GPUs per node for training (0: CPU); >1: one DDP rank per GPU (ddp_launch)
cpu_procs=1           # --ngpu 0 only: CPU training processes per node; >1: DDP over gloo (ddp_launch)
train_threads=        # CPU threads of each training process; default: $OMP_NUM_THREADS (path.sh: 1 unless set)
num_nodes=1           # >1: one multi-node DDP job submitted with utils/slurm.py --nodes (SPEECHT5_SLURM_DRY_RUN=1: print it only)
init_param=           # e.g. "exp/pretrained/model.pth:encoder:encoder" (space-separated list)
train_args=           # extra options for the training module
exp_tag=              # experiment folder ${expdir}/<task>_<exp_tag>; default: <train config name>_<token tag>
asr_tag=              # the same as --exp_tag, under ESPnet's name
train_module=         # the training entry point; default per task (espnet2_speecht5.bin.asr_train)
inference_module=     # the inference entry point; default per task (espnet2_speecht5.bin.asr_inference)
# Language model (asr)
use_lm=false          # train an LM on the training text (stages 7-8) and decode with it (stage 9)
lm_file=              # decode with this LM checkpoint instead (its config.yaml beside it); no LM training
lm_args=              # extra options for espnet2.bin.lm_train
lm_exp_tag=           # LM folder ${expdir}/lm_<lm_exp_tag>; default: <lm config name>_<token tag>
inference_lm=valid.loss.ave.pth  # the checkpoint of the trained LM used for decoding
# Inference, scoring, pack, publish (stages 9-13)
inference_model=      # checkpoint in the experiment folder; default: valid.acc.ave.pth, else valid.acc.best.pth, else latest.pth (tts: valid.loss.*)
inference_args=       # extra options for the inference module
inference_ngpu=0      # GPUs per inference job
hf_repo=              # Hugging Face repository owner/name: stage 13 uploads there when a Hugging Face token is set

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
 Pre-training (pretrain):
  --pretrain_text_set SET [${pretrain_text_set}]   text corpus data/SET/text; held-out text: data/<valid or test set>_text/text
  --n_clusters N [${n_clusters}]  --cluster_iteration N [${cluster_iteration}]   stage 6 k-means labels (1: MFCC)
  --cluster_feature_model PTH  --cluster_feature_layer N [${cluster_feature_layer}]   iteration >= 2 features
  --cluster_args '...'        options of make_cluster_labels (--fit_fraction, --max_fit_frames, --seed)
 Fine-tuning (asr, tts):
  --pretrained_model ZIP|PTH  a pretrain model: its token list (stage 5) and parameters (stage 8)
 Speaker embeddings (6; tts):
  --spk_source espnet_spk|files|lookup [${spk_source}]   --spk_average true|false [${spk_average}]
  --spk_files PATH (files)  --spk_model PATH (espnet_spk, instead of training one)  --spk_config YAML [${spk_config}]
 TTS scoring (10): --asr_exp DIR [../asr1/exp/asr_train_<token tag>] --asr_model FILE [${asr_model}]
  --asr_model_zip ZIP  --asr_decode_config YAML  --score_args '...' (options of score_tts)
  --train_config, --inference_config, --lm_config   YAML files [conf/train.yaml, conf/decode.yaml, conf/train_lm.yaml]
  --dumpdir DIR [${dumpdir}], --expdir DIR [${expdir}]
 Training (7-8):
  --stats_nj N [${stats_nj}]  --ngpu N [${ngpu}]  --cpu_procs N [${cpu_procs}]  --num_nodes N [${num_nodes}]
                              data-parallel training (DDP, espnet2_speecht5.bin.ddp_launch): --ngpu N>1
                              (one rank per GPU) or, with --ngpu 0, --cpu_procs N>1 (CPU ranks over
                              gloo); --batch_size stays the global batch. A failed rank stops the
                              others; rerunning the same command resumes from the last finished epoch.
                              --num_nodes N>1: one Slurm job (utils/slurm.py --nodes) with that many
                              ranks per node; SPEECHT5_SLURM_OPTS adds sbatch options, and
                              SPEECHT5_SLURM_DRY_RUN=1 prints the script and each rank's environment only
  --train_threads N           CPU threads of each training process [\$OMP_NUM_THREADS: 1 unless set]
  --init_param 'path[:src:dst[:exclude]] ...'   initial parameters (e.g. a converted checkpoint)
  --train_args '...'          extra options for the training module
  --exp_tag TAG (or --asr_tag TAG)   experiment folder ${expdir}/<task>_TAG
  --train_module, --inference_module   entry points [espnet2_speecht5.bin.<task>_train / _inference]
  --use_lm true|false [${use_lm}]   train an LM on the training text and decode with it
  --lm_file PATH              decode with this LM (its config.yaml beside it) instead of training one
  --lm_args '...', --lm_exp_tag TAG, --inference_lm FILE [${inference_lm}]
 Inference and after (9-13):
  --inference_nj N [${inference_nj}]  --inference_ngpu N [${inference_ngpu}]
  --inference_model FILE      [valid.acc.ave.pth, else valid.acc.best.pth, else latest.pth]
  --inference_args '...'      extra options for the inference module
  --hf_repo owner/name        stage 13 uploads the export folder there when a Hugging Face token is set
                              (HF_TOKEN or huggingface-cli login); otherwise it lists what it would upload"

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

# ------------------------------------------------------------------------ per-task settings of stages 7-13
# A task plugs into stages 7-13 by setting these variables and adding its case to task_data_opts
# (and, where it differs from asr, to the stage functions).
#   trained_tasks   tasks whose stages 7-13 exist
#   train_module / inference_module   python -m entry points
#   shape_keys / fold_lengths   the data names the sampler batches by, and their fold lengths
#   pack_kind       the espnet2.bin.pack subcommand; model_prefix: its --<prefix>train_config option
#   inference_models  the checkpoints stages 9-12 look for, in order (unless --inference_model)
#   score_metrics   what stage 10 computes
trained_tasks=" asr tts pretrain "
shape_keys="" vocab_shape_keys="" fold_lengths="" pack_kind="" model_prefix="" score_metrics=""
inference_models="latest.pth"
case "${token_type}" in
    bpe) token_tag=bpe${nbpe} ;;
    *) token_tag=${token_type} ;;
esac
case "${task}" in
    asr)
        train_module=${train_module:-espnet2_speecht5.bin.asr_train}
        inference_module=${inference_module:-espnet2_speecht5.bin.asr_inference}
        shape_keys="speech text"
        vocab_shape_keys="text"  # their shape files get the vocabulary size appended (for batch_type numel)
        fold_lengths="80000 150"
        pack_kind=asr
        model_prefix=asr_
        inference_models="valid.acc.ave.pth valid.acc.best.pth latest.pth"
        score_metrics="wer cer ter" ;;
    tts)
        train_module=${train_module:-espnet2_speecht5.bin.tts_train}
        inference_module=${inference_module:-espnet2_speecht5.bin.tts_inference}
        shape_keys="text speech"
        vocab_shape_keys="text"
        fold_lengths="150 204800"  # 800 mel frames of 256 samples
        pack_kind=tts
        model_prefix=""
        inference_models="valid.loss.ave.pth valid.loss.best.pth latest.pth"
        score_metrics="mcd cer spk" ;;
    pretrain)
        train_module=${train_module:-espnet2_speecht5.bin.pretrain_train}
        inference_module=${inference_module:-espnet2_speecht5.bin.pretrain_evaluate}
        shape_keys="speech"
        fold_lengths="80000"
        pack_kind=ssl
        model_prefix=ssl_
        inference_models="valid.acc_mlm.ave.pth valid.acc_mlm.best.pth latest.pth"
        score_metrics="acc_mlm loss_text_ce" ;;
    *)
        train_module=${train_module:-espnet2_speecht5.bin.${task}_train}
        inference_module=${inference_module:-espnet2_speecht5.bin.${task}_inference} ;;
esac
xvector_dir=${xvector_dir:-${dumpdir}/xvector}
label_dir=${dumpdir}/labels_iter${cluster_iteration}    # stage 6 (pretrain): <set>/label
cluster_dir=${expdir}/clusters_iter${cluster_iteration}  # stage 6 (pretrain): info.yaml, centroids.npy
train_config=${train_config:-conf/train.yaml}
inference_config=${inference_config:-conf/decode.yaml}
lm_config=${lm_config:-conf/train_lm.yaml}
[ -z "${asr_tag}" ] || exp_tag=${asr_tag}
[ -n "${exp_tag}" ] || exp_tag=$(basename "${train_config}" .yaml)_${token_tag}
task_exp=${expdir}/${task}_${exp_tag}
stats_dir=${expdir}/${task}_stats_${token_tag}
lm_stats_dir=${expdir}/lm_stats_${token_tag}
[ -n "${lm_exp_tag}" ] || lm_exp_tag=$(basename "${lm_config}" .yaml)_${token_tag}
lm_exp=${expdir}/lm_${lm_exp_tag}
token_opts="--token_type ${token_type} --token_list ${token_dir}/tokens.txt"
[ "${token_type}" != bpe ] || token_opts+=" --bpemodel ${token_dir}/bpe.model"
if [ -n "${lm_file}" ]; then
    use_lm=true  # --lm_file implies decoding with an LM
    [ -f "${lm_file}" ] || die "--lm_file ${lm_file} does not exist"
fi
case "${use_lm}" in true|false) ;; *) die "--use_lm must be true or false, not '${use_lm}'" ;; esac

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
    if [ "${task}" = pretrain ]; then
        require "data/${pretrain_text_set}/text" 1
        [ -f "data/${valid_set}_text/text" ] || log "stage 1: no held-out text data/${valid_set}_text/text: validation scores speech only"
    fi
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
    if [ "${task}" = pretrain ]; then
        for dset in $(pretrain_text_sets); do filter_text_set "${dset}"; done
    fi
    log "stage 4: filtered sets are in $(pwd)/${dumpdir}/raw (see filter_report.txt in each)"
}

pretrain_text_sets() {  # the text corpora of pretrain: training text (unless --skip_train), held-out text of the valid and test sets
    local dset sets=""
    "${skip_train}" || sets="${pretrain_text_set}"
    for dset in ${valid_set} ${test_sets}; do
        [ ! -f "data/${dset}_text/text" ] || sets+=" ${dset}_text"
    done
    tr ' ' '\n' <<<"${sets}" | awk 'NF && !seen[$0]++' | tr '\n' ' '
}

filter_text_set() {  # filter_text_set <set>: data/<set>/text -> ${dumpdir}/raw/<set>/text without empty sentences
    local src=data/$1/text out=${dumpdir}/raw/$1 n_in n_out
    require "${src}" 1
    mkdir -p "${out}"
    awk 'NF >= 2' "${src}" >"${out}/text"
    n_in=$(wc -l <"${src}")
    n_out=$(wc -l <"${out}/text")
    log "stage 4: ${out}/text: ${n_out} of ${n_in} sentences kept (the others are empty)"
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
            if [ -n "${pretrained_model}" ]; then
                # the pre-training model's list, so that its text embeddings carry over
                python -m espnet2_speecht5.bin.pretrained_init tokens --pretrained_model "${pretrained_model}" \
                    --token_type "${token_type}" --outdir "${token_dir}" --cache_dir "${expdir}/pretrained_model"
            else
                require "${train_dump}/text" 4
                make_token_list "${token_type}" "${bpemode}" "${nbpe}" "${train_dump}/text" "${token_dir}"
            fi ;;
        st)
            require "${train_dump}/text.tgt" 4
            make_token_list "${token_type}" "${bpemode}" "${nbpe}" "${train_dump}/text" "${token_dir}"
            make_token_list "${tgt_token_type}" "${tgt_bpemode}" "${tgt_nbpe}" "${train_dump}/text.tgt" "${tgt_token_dir}" ;;
        sid)
            require "${train_dump}/utt2spk" 4
            python -m espnet2_speecht5.bin.make_token_list --token_type spk \
                --utt2spk "${train_dump}/utt2spk" --outdir "${token_list_dir}/spk" ;;
        pretrain)
            require "${dumpdir}/raw/${pretrain_text_set}/text" 4
            make_token_list "${token_type}" "${bpemode}" "${nbpe}" "${dumpdir}/raw/${pretrain_text_set}/text" "${token_dir}"
            # the text infilling's mask symbol, just before <sos/eos> (ESPnet's lists end with it)
            awk -v n="$(wc -l <"${token_dir}/tokens.txt")" 'NR == n && $0 != "<mask>" { print "<mask>" } { print }' \
                "${token_dir}/tokens.txt" >"${token_dir}/tokens.txt.tmp"
            mv "${token_dir}/tokens.txt.tmp" "${token_dir}/tokens.txt"
            log "stage 5: ${token_dir}/tokens.txt: $(wc -l <"${token_dir}/tokens.txt") tokens with <mask>; fine-tune from this model with --pretrained_model to share it" ;;
        vc|se)
            skip 5 "task ${task} has no text output" ;;
    esac
    log "stage 5: token lists are in $(pwd)/${token_list_dir}"
}

stage_6_aux() {
    case "${task}" in
        asr|st|se|sid) skip 6 "task ${task} uses no auxiliary targets" ;;
        tts) make_speaker_embeddings ;;
        pretrain) make_cluster_labels ;;
        *) not_implemented 6 ;;
    esac
}

make_cluster_labels() {  # stage 6 of pretrain: k-means labels at the config's model_conf.label_rate (50 Hz) for every set, fitted on the training set
    local dset dirs=() opts=() label_rate
    require "${dumpdir}/raw/${data_train_set}/wav.scp" 4
    require_file "${train_config}" --train_config
    label_rate=$(python -m espnet2_speecht5.bin.config_value --config "${train_config}" --key model_conf.label_rate \
        --default 50) || die "stage 6: cannot read model_conf.label_rate from ${train_config}"
    dirs+=("${dumpdir}/raw/${data_train_set}")
    for dset in ${dump_sets}; do
        [ "${dset}" = "${data_train_set}" ] && continue
        require "${dumpdir}/raw/${dset}/wav.scp" 4
        dirs+=("${dumpdir}/raw/${dset}")
    done
    if [ "${cluster_iteration}" -ge 2 ]; then
        [ -n "${cluster_feature_model}" ] || die "--cluster_iteration ${cluster_iteration} clusters the features of a pre-trained model: pass --cluster_feature_model (e.g. exp/pretrain_<tag>/valid.acc_mlm.best.pth of iteration $((cluster_iteration - 1)))"
        require_file "${cluster_feature_model}" --cluster_feature_model
        opts+=(--feature_model "${cluster_feature_model}" --feature_layer "${cluster_feature_layer}")
        log "stage 6: iteration ${cluster_iteration}: ${n_clusters} clusters of encoder block ${cluster_feature_layer} of ${cluster_feature_model}, labels at ${label_rate} Hz (model_conf.label_rate of ${train_config})"
    else
        log "stage 6: iteration 1: ${n_clusters} clusters of MFCC features, labels at ${label_rate} Hz (model_conf.label_rate of ${train_config})"
    fi
    # shellcheck disable=SC2086
    python -m espnet2_speecht5.bin.make_cluster_labels --iteration "${cluster_iteration}" --n_clusters "${n_clusters}" \
        --label_rate "${label_rate}" --data_dirs "${dirs[@]}" --outdir "${label_dir}" --info "${cluster_dir}/info.yaml" \
        "${opts[@]}" ${cluster_args}
    log "stage 6: labels at ${label_rate} Hz are in ${label_dir}/<set>/label; k-means: ${cluster_dir}/info.yaml"
}
cluster_count() {  # the number of clusters that stage 6 used
    require "${cluster_dir}/info.yaml" 6
    awk '$1 == "n_clusters:" { print $2 }' "${cluster_dir}/info.yaml"
}

make_speaker_embeddings() {  # stage 6 of tts: one 512-dim x-vector per utterance of every set
    local dset sets="" opts=()
    require "${dumpdir}/raw/${data_train_set}/wav.scp" 4
    for dset in ${dump_sets}; do
        [ "${dset}" = "${data_train_set}" ] && continue
        require "${dumpdir}/raw/${dset}/wav.scp" 4
        sets+=" ${dumpdir}/raw/${dset}"
    done
    case "${spk_source}" in
        files)
            [ -n "${spk_files}" ] || die "--spk_source files needs --spk_files (a Kaldi xvector.scp/ark or a folder of <utt>.npy)"
            opts+=(--files "${spk_files}") ;;
        espnet_spk)
            if [ -n "${spk_model}" ]; then
                opts+=(--spk_model "${spk_model}")
            else
                require_file "${spk_config}" --spk_config
                opts+=(--spk_config "${spk_config}" --spk_exp "${expdir}/spk_${spk_source}")
            fi ;;
        lookup) ;;
        *) die "--spk_source must be espnet_spk, files or lookup, not '${spk_source}'" ;;
    esac
    log "stage 6: speaker embeddings from ${spk_source} into ${xvector_dir}"
    python -m espnet2_speecht5.bin.make_speaker_embeddings --source "${spk_source}" \
        --train_dir "${dumpdir}/raw/${data_train_set}" --eval_dirs "${sets# }" --outdir "${xvector_dir}" \
        --average_per_speaker "${spk_average}" --nj "${nj}" "${opts[@]}"
    [ ! -f "${xvector_dir}/eer.txt" ] || log "stage 6: speaker separation on held-out utterances: $(cat "${xvector_dir}/eer.txt")"
    log "stage 6: x-vectors are in ${xvector_dir}/<set>/xvector.scp"
}
# ------------------------------------------------------------------------ stages 7-13: helpers
require_task() {  # require_task <stage>: stop unless stages 7-13 exist for the task
    [[ "${trained_tasks}" == *" ${task} "* ]] || not_implemented "$1"
}
require_file() {  # require_file <path> <option>: a file the user names must exist
    [ -f "$1" ] || die "$2 $1 does not exist"
}
task_data_opts() {  # task_data_opts <train|valid|test> <dump dir>: the task's data triples
    case "${task}" in
        asr)
            if [ "$1" = test ]; then
                echo "--data_path_and_name_and_type $2/wav.scp,speech,sound"
            else
                echo "--$1_data_path_and_name_and_type $2/wav.scp,speech,sound --$1_data_path_and_name_and_type $2/text,text,text"
            fi ;;
        tts)
            local spk=${xvector_dir}/$(basename "$2")/xvector.scp
            require "${spk}" 6
            if [ "$1" = test ]; then
                echo "--data_path_and_name_and_type $2/text,text,text --data_path_and_name_and_type ${spk},spembs,kaldi_ark"
            else
                echo "--$1_data_path_and_name_and_type $2/text,text,text --$1_data_path_and_name_and_type $2/wav.scp,speech,sound --$1_data_path_and_name_and_type ${spk},spembs,kaldi_ark"
            fi ;;
        pretrain)
            local label=${label_dir}/$(basename "$2")/label
            echo "--$1_data_path_and_name_and_type $2/wav.scp,speech,sound --$1_data_path_and_name_and_type ${label},label,text_int" ;;
    esac
}
require_task_inputs() {  # require_task_inputs <set>: inputs beyond the dump that the task reads (tts: x-vectors; pretrain: labels)
    [ "${task}" != tts ] || require "${xvector_dir}/$1/xvector.scp" 6
    [ "${task}" != pretrain ] || require "${label_dir}/$1/label" 6
}
task_model_opts() {  # model options that earlier stages decide (pretrain: the number of clusters of stage 6)
    [ "${task}" != pretrain ] || echo "--model_conf num_clusters=$(cluster_count)"
}
pretrain_valid_text() {  # the held-out text of the validation set (stage 4), or nothing
    local text=${dumpdir}/raw/${valid_set}_text/text
    [ ! -f "${text}" ] || echo "${text}"
}
pretrain_text_opts() {  # pretrain, stage 8: the training and held-out text corpora and their shapes
    local train_text=${dumpdir}/raw/${pretrain_text_set}/text valid_text
    valid_text=$(pretrain_valid_text)
    echo "--train_text_data_path_and_name_and_type ${train_text},text,text" \
        "--train_text_shape_file ${stats_dir}/text/train/text_shape.${token_type} --text_fold_length 150"
    [ -z "${valid_text}" ] || echo "--valid_text_data_path_and_name_and_type ${valid_text},text,text" \
        "--valid_text_shape_file ${stats_dir}/text/valid/text_shape.${token_type}"
}
shape_file() {  # shape_file <key>: the name of a shape file in a stats dir
    if [[ " ${vocab_shape_keys} " == *" $1 "* ]]; then echo "$1_shape.${token_type}"; else echo "$1_shape"; fi
}
add_vocab_dim() {  # add_vocab_dim <stats dir> <key>: "utt length" -> "utt length,vocabulary size"
    local mode vocab
    vocab=$(wc -l <"${token_dir}/tokens.txt")
    for mode in train valid; do
        awk -v v="${vocab}" '{ print $0 "," v }' "$1/${mode}/$2_shape" >"$1/${mode}/$2_shape.${token_type}"
    done
}
shape_opts() {  # shape_opts <stats dir> <keys> <fold lengths>: shape files and fold lengths (check them first)
    local file opts="" keys=($2) folds=($3) i
    for i in "${!keys[@]}"; do
        file=$(shape_file "${keys[$i]}")
        opts+=" --train_shape_file $1/train/${file} --valid_shape_file $1/valid/${file} --fold_length ${folds[$i]}"
    done
    echo "${opts}"
}
inference_model_name() {  # the checkpoint used by stages 9-12 (in ${task_exp})
    local name
    if [ -n "${inference_model}" ]; then echo "${inference_model}"; return; fi
    for name in ${inference_models}; do
        if [ -e "${task_exp}/${name}" ]; then echo "${name}"; return; fi
    done
    echo "${inference_models%% *}"
}
lm_model_file() { if [ -n "${lm_file}" ]; then echo "${lm_file}"; else echo "${lm_exp}/${inference_lm}"; fi; }
lm_train_config() { echo "$(dirname "$(lm_model_file)")/config.yaml"; }
decode_dir() {  # decode_dir <model name>: ${task_exp}/decode[_<inference config>]_<model>[_lm_<lm>]
    local tag lm lm_dir
    tag=$(basename "${inference_config}" .yaml)
    [[ "${tag}" == decode* ]] || tag=decode_${tag}
    tag+=_${1%.pth}
    if "${use_lm}"; then
        lm=$(lm_model_file)
        lm_dir=$(basename "$(dirname "${lm}")")
        tag+=_lm_${lm_dir#lm_}_$(basename "${lm}" .pth)
    fi
    echo "${task_exp}/${tag}"
}
run_logged() {  # run_logged <log> <runner> <command...>: one job through the runner; show the log's tail on failure
    local log_file=$1 runner=$2
    shift 2
    mkdir -p "$(dirname "${log_file}")"
    # shellcheck disable=SC2086
    if ! ${runner} "${log_file}" "$@"; then
        tail -n 25 "${log_file}" >&2 || true
        die "the job failed; the full log is ${log_file}"
    fi
}
collect_stats() {  # collect_stats <module> <outdir> <config> <train keys> <valid keys> <options...>
    local module=$1 outdir=$2 config=$3 train_keys=$4 valid_keys=$5 n_train n_valid _nj logdir i
    shift 5
    logdir=${outdir}/logdir
    n_train=$(wc -l <"${train_keys}")
    n_valid=$(wc -l <"${valid_keys}")
    _nj=$(min "$(min "${stats_nj}" "${n_train}")" "${n_valid}")
    rm -rf "${logdir}"
    mkdir -p "${logdir}"
    split_scp.py --num_splits "${_nj}" --out_pattern "${logdir}/train.JOB.scp" "${train_keys}"
    split_scp.py --num_splits "${_nj}" --out_pattern "${logdir}/valid.JOB.scp" "${valid_keys}"
    log "statistics of ${module}: ${n_train} training and ${n_valid} validation utterances in ${_nj} jobs (logs: ${logdir}/stats.*.log)"
    # shellcheck disable=SC2086
    ${train_cmd} JOB=1:"${_nj}" "${logdir}/stats.JOB.log" \
        python -m "${module}" --collect_stats true --config "${config}" --ngpu 0 --use_preprocessor true \
            --train_shape_file "${logdir}/train.JOB.scp" --valid_shape_file "${logdir}/valid.JOB.scp" \
            --output_dir "${logdir}/stats.JOB" "$@" \
        || die "statistics failed; see ${logdir}/stats.*.log"
    local inputs=()
    for i in $(seq "${_nj}"); do inputs+=(--input_dir "${logdir}/stats.${i}"); done
    python -m espnet2.bin.aggregate_stats_dirs "${inputs[@]}" --output_dir "${outdir}" 2>>"${logdir}/aggregate.log"
}

# ------------------------------------------------------------------------ stages 7-13
stage_7_stats() {
    require_task 7
    local train_dump=${dumpdir}/raw/${data_train_set} valid_dump=${dumpdir}/raw/${valid_set} p
    require "${train_dump}/wav.scp" 4
    require "${valid_dump}/wav.scp" 4
    require "${token_dir}/tokens.txt" 5
    require_task_inputs "${data_train_set}"
    require_task_inputs "${valid_set}"
    require_file "${train_config}" --train_config
    # shellcheck disable=SC2046,SC2086
    collect_stats "${train_module}" "${stats_dir}" "${train_config}" "${train_dump}/wav.scp" "${valid_dump}/wav.scp" \
        ${token_opts} $(task_model_opts) $(task_data_opts train "${train_dump}") $(task_data_opts valid "${valid_dump}")
    for p in ${vocab_shape_keys}; do add_vocab_dim "${stats_dir}" "${p}"; done
    log "stage 7: shapes and statistics are in ${stats_dir}/{train,valid}"
    if [ "${task}" = pretrain ]; then
        local train_text=${dumpdir}/raw/${pretrain_text_set}/text valid_text
        require "${train_text}" 4
        valid_text=$(pretrain_valid_text)
        if [ -z "${valid_text}" ]; then
            valid_text=${train_text}  # collect_stats wants both; without held-out text, valid shapes go unused
            log "stage 7: no held-out text ${dumpdir}/raw/${valid_set}_text/text: validation scores speech only"
        fi
        # shellcheck disable=SC2046,SC2086
        collect_stats "${train_module}" "${stats_dir}/text" "${train_config}" "${train_text}" "${valid_text}" \
            ${token_opts} $(task_model_opts) --train_data_path_and_name_and_type "${train_text},text,text" \
            --valid_data_path_and_name_and_type "${valid_text},text,text"
        add_vocab_dim "${stats_dir}/text" text
        log "stage 7: text shapes are in ${stats_dir}/text/{train,valid}"
    fi
    if "${use_lm}" && [ -z "${lm_file}" ]; then
        require_file "${lm_config}" --lm_config
        # shellcheck disable=SC2086
        collect_stats espnet2.bin.lm_train "${lm_stats_dir}" "${lm_config}" "${train_dump}/text" "${valid_dump}/text" \
            ${token_opts} --train_data_path_and_name_and_type "${train_dump}/text,text,text" \
            --valid_data_path_and_name_and_type "${valid_dump}/text,text,text"
        add_vocab_dim "${lm_stats_dir}" text
        log "stage 7: LM shapes are in ${lm_stats_dir}/{train,valid}"
    fi
}

train_one() {  # train_one <module> <exp dir> <log name> <options...>: one process or DDP ranks, resumable
    local module=$1 exp=$2 name=$3
    shift 3
    local ranks=${cpu_procs} device=cpu launch=()
    if [ "${ngpu}" -gt 0 ]; then ranks=${ngpu} device=gpu; fi
    [ "${ranks}" -ge 1 ] || die "--cpu_procs must be at least 1, not '${cpu_procs}'"
    # A rerun resumes from ${exp}/checkpoint.pth; the interrupted run's log is kept as <name>.log.<n>.
    if [ -f "${exp}/${name}.log" ]; then
        local n=1
        while [ -e "${exp}/${name}.log.${n}" ]; do n=$((n + 1)); done
        mv "${exp}/${name}.log" "${exp}/${name}.log.${n}"
    fi
    # A thread count changes the order of the arithmetic, so results match exactly only between
    # runs with the same count; the default keeps path.sh's OMP_NUM_THREADS (1 unless set).
    local threads=${train_threads:-${OMP_NUM_THREADS:-1}}
    if [ "${num_nodes}" -gt 1 ]; then
        # One sbatch job: one task per node, each starting ${ranks} ranks with ddp_launch --slurm.
        local per_node=(--ranks_per_node "${ranks}")
        [ "${device}" = cpu ] || per_node=(--gpu "${ngpu}")
        log "training on ${num_nodes} nodes x ${ranks} ${device} rank(s), one Slurm job; log: ${exp}/${name}.log"
        mkdir -p "${exp}"
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=${threads} run_logged "${exp}/${name}.log" \
            "slurm.py --nodes ${num_nodes} ${per_node[*]} ${SPEECHT5_SLURM_OPTS:-}" \
            python -m "${module}" --output_dir "${exp}" --resume true "$@"
        case "${SPEECHT5_SLURM_DRY_RUN:-}" in ""|0) ;; *) log "dry run: the training job was not submitted" ;; esac
        return
    fi
    if [ "${ranks}" -gt 1 ]; then
        launch=(python -m espnet2_speecht5.bin.ddp_launch --nproc_per_node "${ranks}" --device "${device}" --)
        log "training ${module} into ${exp} as ${ranks} data-parallel ${device} rank(s) with ${threads} CPU thread(s) each (follow it with: tail -f ${exp}/${name}.log)"
    else
        log "training ${module} into ${exp} with ${threads} CPU thread(s) (follow it with: tail -f ${exp}/${name}.log)"
    fi
    OMP_NUM_THREADS=${threads} run_logged "${exp}/${name}.log" "${cuda_cmd}" "${launch[@]}" python -m "${module}" \
        --ngpu "${ngpu}" --output_dir "${exp}" --resume true "$@"
}

stage_8_train() {
    require_task 8
    local train_dump=${dumpdir}/raw/${data_train_set} valid_dump=${dumpdir}/raw/${valid_set} p
    for p in ${shape_keys}; do
        require "${stats_dir}/train/$(shape_file "${p}")" 7
        require "${stats_dir}/valid/$(shape_file "${p}")" 7
    done
    require_file "${train_config}" --train_config
    if "${use_lm}" && [ -z "${lm_file}" ]; then
        require_file "${lm_config}" --lm_config
        require "${lm_stats_dir}/train/$(shape_file text)" 7
        # shellcheck disable=SC2046,SC2086
        train_one espnet2.bin.lm_train "${lm_exp}" train --config "${lm_config}" --use_preprocessor true ${token_opts} \
            --train_data_path_and_name_and_type "${train_dump}/text,text,text" \
            --valid_data_path_and_name_and_type "${valid_dump}/text,text,text" \
            $(shape_opts "${lm_stats_dir}" text 150) ${lm_args}
        log "stage 8: the LM is in ${lm_exp}"
    fi
    local init_opts="" task_opts=""
    for p in ${init_param}; do init_opts+=" --init_param ${p}"; done
    if [ -n "${pretrained_model}" ]; then
        # the parts of the pre-training network that this task's network has (keys net.*); the token list must be its own
        mkdir -p "${task_exp}"
        python -m espnet2_speecht5.bin.pretrained_init params --pretrained_model "${pretrained_model}" --task "${task}" \
            --token_list "${token_dir}/tokens.txt" --out "${task_exp}/pretrained_init.pth" --cache_dir "${expdir}/pretrained_model"
        init_opts+=" --init_param ${task_exp}/pretrained_init.pth:net:net"
    fi
    if [ "${task}" = pretrain ]; then
        require "${stats_dir}/text/train/text_shape.${token_type}" 7
        task_opts="$(task_model_opts) $(pretrain_text_opts)"
    fi
    # shellcheck disable=SC2046,SC2086
    train_one "${train_module}" "${task_exp}" train --config "${train_config}" --use_preprocessor true ${token_opts} \
        $(task_data_opts train "${train_dump}") $(task_data_opts valid "${valid_dump}") \
        $(shape_opts "${stats_dir}" "${shape_keys}" "${fold_lengths}") ${task_opts} ${init_opts} ${train_args}
    log "stage 8: the model is in ${task_exp} ($(cd "${task_exp}" && ls -- *.pth 2>/dev/null | tr '\n' ' '))"
}

stage_9_inference() {
    require_task 9
    local model dir dset data n _nj logdir f lm_opts=()
    model=$(inference_model_name)
    require "${task_exp}/${model}" 8
    require "${task_exp}/config.yaml" 8
    if [ "${task}" = pretrain ]; then pretrain_evaluate "${model}"; return; fi
    require_file "${inference_config}" --inference_config
    if "${use_lm}"; then
        if [ -n "${lm_file}" ]; then require_file "$(lm_train_config)" "config of --lm_file:"; else require "$(lm_model_file)" 8; fi
        lm_opts=(--lm_train_config "$(lm_train_config)" --lm_file "$(lm_model_file)")
    fi
    dir=$(decode_dir "${model}")
    local task_opts=(--batch_size 1)  # asr decodes one utterance at a time
    for dset in ${test_sets}; do
        data=${dumpdir}/raw/${dset}
        require "${data}/wav.scp" 4
        require_task_inputs "${dset}"
        # tts: the batch size comes from the decoding config; plots draw the recording above the synthesis
        [ "${task}" != tts ] || task_opts=(--ref_wav_scp "${data}/wav.scp")
        logdir=${dir}/${dset}/logdir
        n=$(wc -l <"${data}/wav.scp")
        _nj=$(min "${inference_nj}" "${n}")
        rm -rf "${logdir}"
        mkdir -p "${logdir}"
        split_scp.py --num_splits "${_nj}" --out_pattern "${logdir}/keys.JOB.scp" "${data}/wav.scp"
        log "stage 9: ${dset}: ${n} utterances in ${_nj} jobs with ${model} (logs: ${logdir}/${task}_inference.*.log)"
        # shellcheck disable=SC2046,SC2086
        ${decode_cmd} JOB=1:"${_nj}" "${logdir}/${task}_inference.JOB.log" \
            python -m "${inference_module}" --ngpu "${inference_ngpu}" "${task_opts[@]}" \
                $(task_data_opts test "${data}") --key_file "${logdir}/keys.JOB.scp" \
                --${model_prefix}train_config "${task_exp}/config.yaml" --${model_prefix}model_file "${task_exp}/${model}" \
                "${lm_opts[@]}" --config "${inference_config}" --output_dir "${logdir}/output.JOB" ${inference_args} \
            || { tail -n 25 "${logdir}/${task}_inference.1.log" >&2; die "inference failed on ${dset}; see ${logdir}/${task}_inference.*.log"; }
        if [ "${task}" = tts ]; then
            merge_tts_outputs "${logdir}" "${_nj}" "${dir}/${dset}"
            continue
        fi
        for f in text token token_int score; do
            [ -f "${logdir}/output.1/1best_recog/${f}" ] || continue
            for n in $(seq "${_nj}"); do cat "${logdir}/output.${n}/1best_recog/${f}"; done | sort -k1,1 >"${dir}/${dset}/${f}"
        done
        require "${dir}/${dset}/text" 9
        n=$(wc -l <"${dir}/${dset}/text")
        log "stage 9: ${dset}: ${n} hypotheses in ${dir}/${dset}/text"
    done
}

eval_dir() { echo "${task_exp}/eval_${1%.pth}"; }  # eval_dir <model name>: pretrain's held-out scores

pretrain_evaluate() {  # stage 9 of pretrain: held-out speech (masked prediction) and text (denoising), in parallel jobs
    local model=$1 dir dset data text n _nj logdir text_opts device=cpu
    dir=$(eval_dir "${model}")
    [ "${inference_ngpu}" -eq 0 ] || device=cuda
    for dset in ${test_sets}; do
        data=${dumpdir}/raw/${dset}
        require "${data}/wav.scp" 4
        require_task_inputs "${dset}"
        text=${dumpdir}/raw/${dset}_text/text
        logdir=${dir}/${dset}/logdir
        n=$(wc -l <"${data}/wav.scp")
        _nj=$(min "${inference_nj}" "${n}")
        [ ! -f "${text}" ] || _nj=$(min "${_nj}" "$(wc -l <"${text}")")
        rm -rf "${logdir}"
        mkdir -p "${logdir}"
        split_scp.py --num_splits "${_nj}" --out_pattern "${logdir}/keys.JOB.scp" "${data}/wav.scp"
        text_opts=""
        if [ -f "${text}" ]; then
            split_scp.py --num_splits "${_nj}" --out_pattern "${logdir}/text_keys.JOB.scp" "${text}"
            text_opts="--text ${text} --text_key_file ${logdir}/text_keys.JOB.scp"
        else
            log "stage 9: ${dset}: no held-out text (${text}): speech scores only"
        fi
        log "stage 9: ${dset}: ${n} utterances in ${_nj} jobs with ${model} (logs: ${logdir}/pretrain_evaluate.*.log)"
        # shellcheck disable=SC2086
        ${decode_cmd} JOB=1:"${_nj}" "${logdir}/pretrain_evaluate.JOB.log" \
            python -m "${inference_module}" evaluate --train_config "${task_exp}/config.yaml" \
                --model_file "${task_exp}/${model}" --wav_scp "${data}/wav.scp" --label "${label_dir}/${dset}/label" \
                --key_file "${logdir}/keys.JOB.scp" ${text_opts} --device "${device}" --out "${logdir}/stats.JOB.yaml" \
                ${inference_args} \
            || { tail -n 25 "${logdir}/pretrain_evaluate.1.log" >&2; die "evaluation failed on ${dset}; see ${logdir}/pretrain_evaluate.*.log"; }
    done
    log "stage 9: held-out sums are in ${dir}/<set>/logdir/stats.*.yaml"
}

merge_tts_outputs() {  # merge_tts_outputs <logdir> <jobs> <outdir>: one wav.scp/feats.scp per set; plots together
    local logdir=$1 jobs=$2 out=$3 f n
    for f in wav.scp feats.scp speech_shape; do
        for n in $(seq "${jobs}"); do cat "${logdir}/output.${n}/${f}"; done | sort -k1,1 >"${out}/${f}"
    done
    rm -rf "${out}/plots"
    mkdir -p "${out}/plots"
    for n in $(seq "${jobs}"); do
        [ ! -d "${logdir}/output.${n}/plots" ] || cp "${logdir}/output.${n}/plots/"*.png "${out}/plots/" 2>/dev/null || true
    done
    # The plotted utterances' audio beside their pictures, to listen to.
    local png utt wav
    for png in "${out}/plots/"*.mel.png; do
        [ -e "${png}" ] || continue
        utt=$(basename "${png}" .mel.png)
        wav=$(awk -v u="${utt}" '$1 == u { print $2 }' "${out}/wav.scp")
        [ -z "${wav}" ] || cp "${wav}" "${out}/plots/${utt}.wav"
    done
    n=$(wc -l <"${out}/wav.scp")
    log "stage 9: ${out}: ${n} waveforms in ${out}/wav.scp (files under ${logdir}/output.*/wav); samples and plots in ${out}/plots"
}

stage_10_score() {
    require_task 10
    local dir dset bpe_opts=()
    dir=$(decode_dir "$(inference_model_name)")
    if [ "${task}" = tts ]; then score_tts "${dir}"; return; fi
    if [ "${task}" = pretrain ]; then score_pretrain "$(eval_dir "$(inference_model_name)")"; return; fi
    [ "${token_type}" != bpe ] || bpe_opts=(--bpemodel "${token_dir}/bpe.model")
    for dset in ${test_sets}; do
        require "${dir}/${dset}/text" 9
        python -m espnet2_speecht5.bin.score_asr --ref "${dumpdir}/raw/${dset}/text" --hyp "${dir}/${dset}/text" \
            --utt2spk "${dumpdir}/raw/${dset}/utt2spk" --metrics "${score_metrics}" --token_type "${token_type}" \
            "${bpe_opts[@]}" --outdir "${dir}/${dset}"
    done
    log "stage 10: sclite reports are in ${dir}/<set>/score_*/result.txt"
}

score_pretrain() {  # score_pretrain <eval dir>: the jobs' sums -> <set>/scores.yaml (frame- and token-weighted means)
    local dir=$1 dset
    for dset in ${test_sets}; do
        require "${dir}/${dset}/logdir/stats.1.yaml" 9
        python -m "${inference_module}" merge --inputs "${dir}/${dset}/logdir/"stats.*.yaml --out "${dir}/${dset}/scores.yaml"
        log "stage 10: ${dset}: $(tr '\n' ' ' <"${dir}/${dset}/scores.yaml")"
    done
    log "stage 10: scores are in ${dir}/<set>/scores.yaml"
}

score_tts() {  # score_tts <decode dir>: MCD, CER of the ASR model on the synthesis, speaker similarity
    local dir=$1 dset asr_opts=() spk_opts=() asr_dir decode_conf
    if [ -n "${asr_model_zip}" ]; then
        require_file "${asr_model_zip}" --asr_model_zip
        asr_opts=(--asr_model_zip "${asr_model_zip}")
    else
        asr_dir=${asr_exp:-../asr1/exp/asr_train_${token_tag}}
        [ -f "${asr_dir}/config.yaml" ] && [ -f "${asr_dir}/${asr_model}" ] \
            || die "stage 10 transcribes the synthesised speech with an ASR model, and ${asr_dir}/${asr_model} does not exist: train one (cd ../asr1 && ./run.sh --stop_stage 8), or pass --asr_exp DIR or --asr_model_zip ZIP"
        asr_opts=(--asr_train_config "${asr_dir}/config.yaml" --asr_model_file "${asr_dir}/${asr_model}")
    fi
    decode_conf=${asr_decode_config:-}
    [ -n "${decode_conf}" ] || [ ! -f ../asr1/conf/decode.yaml ] || decode_conf=../asr1/conf/decode.yaml
    [ -z "${decode_conf}" ] || asr_opts+=(--asr_decode_config "${decode_conf}")
    # stage 6 records the speaker model it used (spk_source espnet_spk) in spk_model.yaml
    if [ -f "${xvector_dir}/spk_model.yaml" ]; then
        spk_opts=(--spk_train_config "$(awk '$1 == "train_config:" { print $2 }' "${xvector_dir}/spk_model.yaml")"
                  --spk_model_file "$(awk '$1 == "model_file:" { print $2 }' "${xvector_dir}/spk_model.yaml")")
    else
        log "stage 10: no speaker model recorded in ${xvector_dir}/spk_model.yaml (spk_source ${spk_source}): no speaker similarity"
    fi
    for dset in ${test_sets}; do
        require "${dir}/${dset}/wav.scp" 9
        python -m espnet2_speecht5.bin.score_tts --ref_scp "${dumpdir}/raw/${dset}/wav.scp" \
            --hyp_scp "${dir}/${dset}/wav.scp" --ref_text "${dumpdir}/raw/${dset}/text" \
            --utt2spk "${dumpdir}/raw/${dset}/utt2spk" "${asr_opts[@]}" "${spk_opts[@]}" --outdir "${dir}/${dset}" \
            ${score_args}
        log "stage 10: ${dset}: $(tr '\n' ' ' <"${dir}/${dset}/summary.yaml")"
    done
    log "stage 10: scores are in ${dir}/<set>/summary.yaml (MCD per utterance: mcd; CER: score_cer/result.txt)"
}

stage_11_report() {
    require_task 11
    local model
    model=$(inference_model_name)
    if [ "${task}" = pretrain ]; then
        require "$(eval_dir "${model}")" 9
        python -m "${inference_module}" report --exp_dir "${task_exp}" --model_file "${task_exp}/${model}" \
            --config "${task_exp}/config.yaml" --out "${task_exp}/RESULTS.md" --recipe_copy RESULTS.md >/dev/null
        log "stage 11: wrote ${task_exp}/RESULTS.md and merged it into $(pwd)/RESULTS.md:"
        cat "${task_exp}/RESULTS.md" >&2
        return
    fi
    require "$(decode_dir "${model}")" 9
    python -m espnet2_speecht5.bin.make_results --exp_dir "${task_exp}" --model_file "${task_exp}/${model}" \
        --config "${task_exp}/config.yaml" --images "${task_exp}/images" \
        --out "${task_exp}/RESULTS.md" --recipe_copy RESULTS.md >/dev/null
    if [ -d "${task_exp}/images" ]; then
        log "stage 11: plots in ${task_exp}/images: $(cd "${task_exp}/images" && find . -name '*.png' | sed 's|^\./||' | sort | tr '\n' ' ')"
    fi
    log "stage 11: wrote ${task_exp}/RESULTS.md and merged it into $(pwd)/RESULTS.md:"
    cat "${task_exp}/RESULTS.md" >&2
}

packed_zip() { local model; model=$(inference_model_name); echo "${task_exp}/$(basename "${task_exp}")_${model%.pth}.zip"; }

stage_12_pack() {
    require_task 12
    local model zip f tensors opts=() configs=("${task_exp}/config.yaml")
    model=$(inference_model_name)
    require "${task_exp}/${model}" 8
    require "${task_exp}/RESULTS.md" 11
    zip=$(packed_zip)
    # The weights also travel as safetensors (loading them runs no code); rewritten when the .pth is newer.
    tensors=${task_exp}/${model%.pth}.safetensors
    if [ ! -f "${tensors}" ] || [ "${task_exp}/${model}" -nt "${tensors}" ]; then
        python -m espnet2_speecht5.bin.export_model safetensors "${task_exp}/${model}" "${tensors}"
    fi
    opts+=(--option "${tensors}")
    # Stage 9's decoding options travel as inference.yaml: from_pretrained decodes the way RESULTS.md was made.
    if [ "${task}" != pretrain ]; then  # pretrain decodes nothing
        require_file "${inference_config}" --inference_config
        cp "${inference_config}" "${task_exp}/inference.yaml"
        opts+=(--option "${task_exp}/inference.yaml")
    fi
    # TTS: the training speakers' mean x-vectors, so that a user can pick a voice by name.
    if [ "${task}" = tts ] && [ -f "${xvector_dir}/${data_train_set}/spk_xvector.ark" ]; then
        opts+=(--option "${xvector_dir}/${data_train_set}/spk_xvector.ark")
    fi
    if "${use_lm}"; then
        require "$(lm_model_file)" 8
        opts+=(--lm_train_config "$(lm_train_config)" --lm_file "$(lm_model_file)")
        configs+=("$(lm_train_config)")
    fi
    # Files that the configs name (a sentencepiece model, feature statistics) travel with the model;
    # the data of training (pretrain's text corpora included) does not (export/package.py).
    while read -r f; do
        [ -n "${f}" ] && opts+=(--option "${f}")
    done < <(python -m espnet2_speecht5.bin.export_model files "${configs[@]}")
    opts+=(--option "${task_exp}/RESULTS.md")
    [ ! -d "${task_exp}/images" ] || opts+=(--option "${task_exp}/images")
    rm -f "${zip}"
    python -m espnet2.bin.pack "${pack_kind}" --${model_prefix}train_config "${task_exp}/config.yaml" \
        --${model_prefix}model_file "${task_exp}/${model}" "${opts[@]}" --outpath "${zip}" >"${task_exp}/pack.log" 2>&1 \
        || { tail -n 20 "${task_exp}/pack.log" >&2; die "packing failed; see ${task_exp}/pack.log"; }
    # sha256 of every member in meta.yaml, then verify and unpack it the way users will.
    python -m espnet2_speecht5.bin.export_model checksum "${zip}"
    python -m espnet2_speecht5.bin.export_model check "${zip}"
    local packed=("${task_exp}/config.yaml" "${task_exp}/${model}")
    for f in "${opts[@]}"; do [[ "${f}" == --* ]] || packed+=("${f}"); done
    log "stage 12: packed ${zip} ($(du -h "${zip}" | cut -f1)) with sha256 checksums: ${packed[*]}"
}

stage_13_publish() {
    require_task 13
    local zip corpus
    zip=$(packed_zip)
    require "${zip}" 12
    if [ "${task}" = pretrain ]; then
        skip 13 "transformers has no SpeechT5 pre-training model class; ${zip} is the release (fine-tune from it with --pretrained_model)"
        return
    fi
    corpus=$(basename "$(dirname "$(pwd)")")
    python -m espnet2_speecht5.bin.export_model folder --zip "${zip}" --results "${task_exp}/RESULTS.md" \
        --task "${task}" --corpus "${corpus}" --outdir "${task_exp}/export" --hf_repo "${hf_repo}"
    # Uploads only with --hf_repo and a Hugging Face token; otherwise lists what it would upload.
    python -m espnet2_speecht5.bin.export_model upload --folder "${task_exp}/export" --hf_repo "${hf_repo}"
    log "stage 13: the export folder is ${task_exp}/export"
}

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
