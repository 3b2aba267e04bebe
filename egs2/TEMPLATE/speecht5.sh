#!/usr/bin/env bash
# speecht5.sh: the one stage driver for every SpeechT5 task (asr tts st vc sid se pretrain).
#
# Recipes link to this file and call it from their run.sh with the corpus's options.
# Each stage is one function below. What differs between tasks is not here: the driver asks the
# task's recipe (espnet2_speecht5/recipes/<task>.py) through `recipe <step>`, which runs
# `python -m espnet2_speecht5.recipes <step>` with the driver's settings. The heavy work runs in
# Python entry points (espnet2_speecht5/bin) and utils/, in parallel jobs through cmd.sh.
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
token_list_dir=data/token_list  # stage 5 writes the token lists here (st1 keeps one per target language)
pretrain_text_set=train_text  # pretrain: the text-only data directory for the text objectives (data/<set>/text);
                              # the held-out text of a valid or test set <set> is data/<set>_text/text
# Cluster labels (stage 6; pretrain)
n_clusters=100        # k-means clusters (the model's num_clusters follows it)
cluster_iteration=1   # 1: cluster MFCC; >= 2: cluster an encoder layer of --cluster_feature_model (HuBERT's iterations)
cluster_feature_model=  # iteration >= 2: a pre-training checkpoint with config.yaml beside it
cluster_feature_layer=6 # iteration >= 2: the encoder block of its features (from 1)
cluster_args=         # extra options for espnet2_speecht5.bin.make_cluster_labels (--fit_fraction, --max_fit_frames, --seed, --device)
# Fine-tuning from a pre-training model (asr, tts, sid)
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
score_args=           # extra options of the TTS scorer (python -m espnet2_speecht5.bin.score_tts --help), e.g. "--f0_method dio"
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
  --tgt_token_type, --tgt_bpemode, --tgt_nbpe   target tokens for st; --token_list_dir DIR [data/token_list]
 Pre-training (pretrain):
  --pretrain_text_set SET [${pretrain_text_set}]   text corpus data/SET/text; held-out text: data/<valid or test set>_text/text
  --n_clusters N [${n_clusters}]  --cluster_iteration N [${cluster_iteration}]   stage 6 k-means labels (1: MFCC)
  --cluster_feature_model PTH  --cluster_feature_layer N [${cluster_feature_layer}]   iteration >= 2 features
  --cluster_args '...'        options of make_cluster_labels (--fit_fraction, --max_fit_frames, --seed)
 Fine-tuning (asr, tts, sid):
  --pretrained_model ZIP|PTH  a pretrain model: its token list (stage 5; not sid's speakers) and parameters (stage 8)
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

[ -n "${task}" ] || die "--task is required (asr|tts|st|vc|sid|se|pretrain)"
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

# ------------------------------------------------------------------------ the task's recipe
# Everything that differs between tasks comes from espnet2_speecht5/recipes/<task>.py. Its settings:
# recipe_trained, recipe_train_module, recipe_inference_module, audio_files, text_files, token_lists, aux_targets,
# text_corpus, shape_keys, vocab_shape_keys, fold_lengths, inference_models, uses_inference_config, model_prefix
recipe_env=$(python -m espnet2_speecht5.recipes env --task="${task}") || die "no recipe for --task '${task}'"
eval "${recipe_env}"

case "${token_type}" in
    bpe) token_dir=${token_list_dir}/bpe_${bpemode}${nbpe} token_tag=bpe${nbpe} ;;
    *) token_dir=${token_list_dir}/${token_type} token_tag=${token_type} ;;
esac
case "${tgt_token_type}" in
    bpe) tgt_token_dir=${token_list_dir}/tgt_bpe_${tgt_bpemode}${tgt_nbpe} ;;
    *) tgt_token_dir=${token_list_dir}/tgt_${tgt_token_type} ;;
esac
xvector_dir=${xvector_dir:-${dumpdir}/xvector}
label_dir=${dumpdir}/labels_iter${cluster_iteration}    # stage 6 (cluster labels): <set>/label
cluster_dir=${expdir}/clusters_iter${cluster_iteration}  # stage 6 (cluster labels): info.yaml, centroids.npy
train_config=${train_config:-conf/train.yaml}
inference_config=${inference_config:-conf/decode.yaml}
lm_config=${lm_config:-conf/train_lm.yaml}
[ -z "${asr_tag}" ] || exp_tag=${asr_tag}
[ "${token_lists}" != none ] || token_tag=""  # folders of a task without text carry no token type
[ -n "${exp_tag}" ] || exp_tag=$(basename "${train_config}" .yaml)${token_tag:+_${token_tag}}
task_exp=${expdir}/${task}_${exp_tag}
stats_dir=${expdir}/${task}_stats${token_tag:+_${token_tag}}
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
lm_model_file=${lm_file:-${lm_exp}/${inference_lm}}             # the LM that stage 9 decodes with
lm_model_config=$(dirname "${lm_model_file}")/config.yaml
corpus=$(basename "$(dirname "$(pwd)")")

# the recipe's steps get the driver's settings
recipe_settings="task fs dumpdir expdir data_train_set valid_set test_sets skip_train token_type bpemode nbpe
    tgt_token_type tgt_bpemode tgt_nbpe token_list_dir token_dir tgt_token_dir pretrain_text_set pretrained_model
    xvector_dir label_dir cluster_dir stats_dir task_exp inference_config inference_ngpu use_lm lm_model_file
    lm_model_config asr_exp asr_model asr_model_zip asr_decode_config score_args hf_repo corpus train_config"
recipe() {  # recipe <step> [options]: one step of the task's recipe, given the driver's settings
    local name args=()
    for name in ${recipe_settings}; do args+=("--${name}=${!name}"); done
    python -m espnet2_speecht5.recipes "$1" "${args[@]}" "${@:2}"
}
train_module=${train_module:-${recipe_train_module}}
token_list_file=${token_dir}/tokens.txt
[ "${token_lists}" != none ] || { token_opts=""; token_list_file=""; }  # a task without text (vc, se)
if [ "${token_lists}" = source_target ]; then  # st: the decoder writes the target; the source list is for its CTC
    token_list_file=${tgt_token_dir}/tokens.txt
    token_opts="--token_type ${tgt_token_type} --token_list ${token_list_file} --src_token_type ${token_type} --src_token_list ${token_dir}/tokens.txt$([ "${tgt_token_type}" != bpe ] || echo " --bpemodel ${tgt_token_dir}/bpe.model")$([ "${token_type}" != bpe ] || echo " --src_bpemodel ${token_dir}/bpe.model")"
fi
inference_module=${inference_module:-${recipe_inference_module}}

skip() { log "stage $1: skipped: $2"; }
require() {  # require <path> <stage that makes it>
    [ -e "$1" ] || die "$1 does not exist: run stage $2 first (--stage $2)"
}
require_file() {  # require_file <path> <option>: a file the user names must exist
    [ -f "$1" ] || die "$2 $1 does not exist"
}
require_trained() {  # require_trained <stage>: stop unless stages 6-13 exist for the task
    "${recipe_trained}" || die "stage $1 is not implemented for task ${task}"
}

# ------------------------------------------------------------------------ stages 1-6
stage_1_data() {
    log "stage 1: data preparation: local/data.sh ${local_data_opts}"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
    local dset
    for dset in ${train_set} ${valid_set} ${test_sets}; do
        require "data/${dset}" 1
        validate_data_dir.py --task "${task}" "data/${dset}"
    done
    recipe check-data
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
    local n _nj scp name list cut logdir=${out}/logs
    list=${src}/wav.scp cut=""  # with Kaldi segments, each job cuts its segments out of wav.scp's recordings
    [ ! -f "${src}/segments" ] || { list=${src}/segments; cut="--recordings ${src}/wav.scp"; }
    n=$(wc -l <"${list}")
    _nj=$(min "${nj}" "${n}")
    mkdir -p "${logdir}" && rm -rf "${out}/split${_nj}"
    for scp in ${audio_files}; do  # the input and the second recording of a pair (vc, se)
        [ -f "${src}/${scp}" ] || continue
        name=${scp%.scp}
        [ "${scp}" != wav.scp ] || scp=$(basename "${list}")
        split_scp.py --num_splits "${_nj}" --out_pattern "${out}/split${_nj}/${name}.JOB.scp" "${src}/${scp}"
        log "stage 3: ${src}/${scp}: ${n} utterances in ${_nj} jobs (logs: ${logdir}/dump_${name}.*.log)"
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${_nj}" "${logdir}/dump_${name}.JOB.log" \
            python -m espnet2_speecht5.bin.dump_audio convert --fs "${fs}" ${cut} \
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
    recipe filter-extra
    log "stage 4: filtered sets are in $(pwd)/${dumpdir}/raw (see filter_report.txt in each)"
}

stage_5_tokens() {
    if "${skip_train}"; then skip 5 "--skip_train true"; return; fi
    recipe tokens
    log "stage 5: token lists are in $(pwd)/${token_list_dir}"
}

stage_6_aux() {
    if [ "${aux_targets}" = none ]; then skip 6 "task ${task} uses no auxiliary targets"; return; fi
    require_trained 6
    "make_${aux_targets}"
}

make_cluster_labels() {  # stage 6: k-means labels at the config's model_conf.label_rate (50 Hz) for every set, fitted on the training set
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

make_speaker_embeddings() {  # stage 6: one 512-dim x-vector per utterance of every set
    local dirs opts=()
    # the recordings whose speaker each utterance gets: the training set first (for vc: the target side)
    dirs=$(recipe speaker-dirs) || die "stage 6: the recipe could not list the speaker data"
    read -r -a dirs <<<"${dirs}"
    # a model configured without speaker input (se: model_conf.use_speaker_embedding false) embeds nothing
    if [ "${#dirs[@]}" -eq 0 ]; then skip 6 "the model of ${train_config} takes no speaker embedding"; return; fi
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
        --train_dir "${dirs[0]}" --eval_dirs "${dirs[*]:1}" --outdir "${xvector_dir}" \
        --average_per_speaker "${spk_average}" --nj "${nj}" "${opts[@]}"
    [ ! -f "${xvector_dir}/eer.txt" ] || log "stage 6: speaker separation on held-out utterances: $(cat "${xvector_dir}/eer.txt")"
    log "stage 6: x-vectors are in ${xvector_dir}/<set>/xvector.scp"
}

# ------------------------------------------------------------------------ stages 7-13: helpers
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
shape_opts() {  # shape_opts <stats dir> <keys> <fold lengths>: shape files and fold lengths
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
collect_text_corpus_stats() {  # stage 7 of a task that also trains on a text corpus: its shapes
    local train_text=${dumpdir}/raw/${pretrain_text_set}/text valid_text=${dumpdir}/raw/${valid_set}_text/text model_opts
    require "${train_text}" 4
    model_opts=$(recipe model-opts)
    if [ ! -f "${valid_text}" ]; then
        valid_text=${train_text}  # collect_stats wants both; without held-out text, valid shapes go unused
        log "stage 7: no held-out text ${dumpdir}/raw/${valid_set}_text/text: validation scores speech only"
    fi
    # shellcheck disable=SC2046,SC2086
    collect_stats "${train_module}" "${stats_dir}/text" "${train_config}" "${train_text}" "${valid_text}" \
        ${token_opts} ${model_opts} --train_data_path_and_name_and_type "${train_text},text,text" \
        --valid_data_path_and_name_and_type "${valid_text},text,text"
    add_vocab_dim "${stats_dir}/text" text
    log "stage 7: text shapes are in ${stats_dir}/text/{train,valid}"
}

# ------------------------------------------------------------------------ stages 7-13
stage_7_stats() {
    require_trained 7
    local train_dump=${dumpdir}/raw/${data_train_set} valid_dump=${dumpdir}/raw/${valid_set} p train_opts valid_opts model_opts
    require "${train_dump}/wav.scp" 4
    require "${valid_dump}/wav.scp" 4
    [ -z "${token_list_file}" ] || require "${token_list_file}" 5
    require_file "${train_config}" --train_config
    train_opts=$(recipe data-opts --mode train --data "${train_dump}")
    valid_opts=$(recipe data-opts --mode valid --data "${valid_dump}")
    model_opts=$(recipe model-opts)
    # shellcheck disable=SC2046,SC2086
    collect_stats "${train_module}" "${stats_dir}" "${train_config}" "${train_dump}/wav.scp" "${valid_dump}/wav.scp" \
        ${token_opts} ${model_opts} ${train_opts} ${valid_opts}
    for p in ${vocab_shape_keys}; do add_vocab_dim "${stats_dir}" "${p}"; done
    log "stage 7: shapes and statistics are in ${stats_dir}/{train,valid}"
    if "${text_corpus}"; then collect_text_corpus_stats; fi
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
    require_trained 8
    local train_dump=${dumpdir}/raw/${data_train_set} valid_dump=${dumpdir}/raw/${valid_set} p init_opts="" task_opts
    local train_opts valid_opts
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
    for p in ${init_param}; do init_opts+=" --init_param ${p}"; done
    if [ -n "${pretrained_model}" ]; then
        # the parts of the pre-training network that this task's network has (keys net.*); the token list must be its own
        mkdir -p "${task_exp}"
        python -m espnet2_speecht5.bin.pretrained_init params --pretrained_model "${pretrained_model}" --task "${task}" \
            ${token_list_file:+--token_list "${token_list_file}"} --train_config "${train_config}" \
            --out "${task_exp}/pretrained_init.pth" --cache_dir "${expdir}/pretrained_model"
        init_opts+=" --init_param ${task_exp}/pretrained_init.pth:net:net"
    fi
    # assigned first: a failing step stops the stage here (set -e), with its one-line error
    task_opts=$(recipe train-opts)
    train_opts=$(recipe data-opts --mode train --data "${train_dump}")
    valid_opts=$(recipe data-opts --mode valid --data "${valid_dump}")
    # shellcheck disable=SC2046,SC2086
    train_one "${train_module}" "${task_exp}" train --config "${train_config}" --use_preprocessor true ${token_opts} \
        ${train_opts} ${valid_opts} \
        $(shape_opts "${stats_dir}" "${shape_keys}" "${fold_lengths}") ${task_opts} ${init_opts} ${train_args}
    log "stage 8: the model is in ${task_exp} ($(cd "${task_exp}" && ls -- *.pth 2>/dev/null | tr '\n' ' '))"
}

stage_9_inference() {
    require_trained 9
    local model dir dset _nj logdir args
    model=$(inference_model_name)
    require "${task_exp}/${model}" 8
    require "${task_exp}/config.yaml" 8
    if "${uses_inference_config}"; then require_file "${inference_config}" --inference_config; fi
    if "${use_lm}"; then
        if [ -n "${lm_file}" ]; then require_file "${lm_model_config}" "config of --lm_file:"; else require "${lm_model_file}" 8; fi
    fi
    dir=$(recipe decode-dir --model "${model}")
    for dset in ${test_sets}; do
        logdir=${dir}/${dset}/logdir
        rm -rf "${logdir}"
        mkdir -p "${logdir}"
        _nj=$(recipe split --model "${model}" --set "${dset}" --logdir "${logdir}" --nj "${inference_nj}")
        args=$(recipe infer-args --model "${model}" --set "${dset}" --logdir "${logdir}")
        log "stage 9: ${dset}: ${_nj} jobs with ${model} (logs: ${logdir}/${task}_inference.*.log)"
        # shellcheck disable=SC2086
        ${decode_cmd} JOB=1:"${_nj}" "${logdir}/${task}_inference.JOB.log" \
            python -m "${inference_module}" ${args} ${inference_args} \
            || { tail -n 25 "${logdir}/${task}_inference.1.log" >&2; die "inference failed on ${dset}; see ${logdir}/${task}_inference.*.log"; }
        recipe merge --model "${model}" --set "${dset}" --logdir "${logdir}" --nj "${_nj}"
    done
    log "stage 9: outputs are in ${dir}/<set>"
}

stage_10_score() {
    require_trained 10
    local model dset
    model=$(inference_model_name)
    for dset in ${test_sets}; do
        recipe score --model "${model}" --set "${dset}"
    done
    log "stage 10: scores are in $(recipe decode-dir --model "${model}")/<set>/scores.json"
}

stage_11_report() {
    require_trained 11
    recipe report --model "$(inference_model_name)" --images "${task_exp}/images" >&2
}

stage_12_pack() {
    require_trained 12
    recipe pack --model "$(inference_model_name)" --images "${task_exp}/images"
}

stage_13_publish() {
    require_trained 13
    recipe publish --model "$(inference_model_name)"
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
