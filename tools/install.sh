#!/usr/bin/env bash
# Set up everything espnet2-speecht5 needs, inside the repository:
#   tools/venv/          a Python virtual environment with pinned packages
#   system packages      sctk (sclite), espeak-ng, sox, through apt when possible
#
# Usage: tools/install.sh [--dev true|false] [--system true|false]
#
# The script is idempotent: a second run compares a hash of the pinned lists
# with the one stored in tools/venv/.installed and returns in seconds when
# nothing changed.  It never installs a CUDA build of torch on a CPU machine;
# when the base Python already has a CUDA-enabled torch, the venv inherits it.
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "${tools_dir}")
venv=${SPEECHT5_VENV:-${tools_dir}/venv}
python=${PYTHON:-python3}
dev=true
system=true
torch_version=2.13.0
torchaudio_version=2.11.0

while [ $# -gt 0 ]; do
    case "$1" in
        --dev) dev=$2; shift 2 ;;
        --system) system=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "[install] $*" >&2; }

# ---------------------------------------------------------------- system packages
# Each entry: debian-package:command:what-needs-it
system_packages=(
    "sctk:/usr/lib/sctk/bin/sclite:stage 10 scoring (sclite WER/CER)"
    "espeak-ng:espeak-ng:the offline corpus egs2/mini_speecht5 (stage 1)"
    "sox:sox:speed perturbation (stage 2) and piped wav.scp entries"
)

have_command() { [ -x "$1" ] || command -v "$1" >/dev/null 2>&1; }

install_system_packages() {
    local missing=() entry pkg cmd
    for entry in "${system_packages[@]}"; do
        IFS=: read -r pkg cmd _ <<<"${entry}"
        have_command "${cmd}" || missing+=("${pkg}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "apt-get install ${missing[*]}"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"${tools_dir}/apt.log" 2>&1; then
            log "apt-get failed; see ${tools_dir}/apt.log"
        fi
    fi
    for entry in "${system_packages[@]}"; do
        IFS=: read -r pkg cmd need <<<"${entry}"
        have_command "${cmd}" || log "WARNING: system package '${pkg}' is missing (needed by ${need}); install it with: sudo apt-get install ${pkg}"
    done
}

[ "${system}" = true ] && install_system_packages

# ---------------------------------------------------------------- python packages
stamp_inputs() {
    cat "${tools_dir}/install.sh" "${tools_dir}/requirements.txt" "${tools_dir}/constraints.txt" \
        "${tools_dir}/requirements-dev.txt" "${repo_dir}/setup.py"
    echo "dev=${dev}"
}
stamp=$(stamp_inputs | sha256sum | cut -d' ' -f1)
if [ -f "${venv}/.installed" ] && [ "$(cat "${venv}/.installed")" = "${stamp}" ]; then
    log "up to date: ${venv}"
    exit 0
fi

base_has_cuda_torch() {
    "${python}" - <<'EOF' 2>/dev/null
import torch, sys
sys.exit(0 if torch.version.cuda else 1)
EOF
}

if [ ! -x "${venv}/bin/python" ]; then
    if base_has_cuda_torch; then
        log "the base Python has a CUDA torch: the venv will use it (--system-site-packages)"
        "${python}" -m venv --system-site-packages "${venv}"
    else
        "${python}" -m venv "${venv}"
    fi
fi
vpy="${venv}/bin/python"
# The machine-wide pip config may list local indexes that do not exist; hide that noise.
pip() { "${vpy}" -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" | grep -v "dependency resolver does not currently\|espnet 202511 requires" >&2); }

# torch: keep a CUDA build if one is importable, otherwise the pinned CPU wheel.
if "${vpy}" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    log "keeping the installed CUDA torch $("${vpy}" -c 'import torch; print(torch.__version__)')"
    torch_pin="torch==$("${vpy}" -c 'import torch; print(torch.__version__)')"
else
    torch_pin="torch==${torch_version}+cpu"
    if ! "${vpy}" -c "import torch, sys; sys.exit(0 if torch.__version__ == '${torch_version}+cpu' else 1)" 2>/dev/null; then
        log "installing ${torch_pin}"
        # A local wheel (find-links) first; otherwise PyTorch's CPU index, never PyPI's CUDA build.
        pip install -q "${torch_pin}" 2>/dev/null ||
            pip install -q --index-url https://download.pytorch.org/whl/cpu "${torch_pin}"
    fi
fi

constraints=$(mktemp)
trap 'rm -f "${constraints}"' EXIT
{ echo "${torch_pin}"; cat "${tools_dir}/constraints.txt"; } >"${constraints}"

log "installing espnet and espnet_model_zoo without their declared dependencies"
pip install -q --no-deps -c "${constraints}" espnet espnet_model_zoo
log "installing runtime dependencies (tools/requirements.txt)"
pip install -q -c "${constraints}" -r "${tools_dir}/requirements.txt"
if [ "${dev}" = true ]; then
    pip install -q -c "${constraints}" -r "${tools_dir}/requirements-dev.txt"
fi

# espnet2 imports torchaudio at start-up.  PyPI only has CUDA builds, so on a CPU
# torch we install the package without its compiled extension: the pure-Python
# parts espnet2 uses (fbank, resample, MelSpectrogram) work without it.
if ! "${vpy}" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    if ! "${vpy}" -c 'import torchaudio' 2>/dev/null; then
        log "installing torchaudio==${torchaudio_version} in pure-Python mode"
        pip install -q --no-deps "torchaudio==${torchaudio_version}"
        site=$("${vpy}" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        rm -f "${site}"/torchaudio/lib/*.so
    fi
else
    pip install -q -c "${constraints}" torchaudio || log "WARNING: no torchaudio matching your CUDA torch"
fi

log "installing espnet2_speecht5 (editable)"
pip install -q --no-deps --no-build-isolation -e "${repo_dir}"

# espnet2 logs a note about the optional flash_attn package at import; it is not needed here.
"${vpy}" - 2> >(grep -v "Flash Attention" >&2) <<'EOF'
import espnet, espnet2.tasks.abs_task, torch, torchaudio, sentencepiece, kaldiio, soundfile, sacrebleu
import espnet2_speecht5
print(f"[install] ok: torch {torch.__version__}, espnet {espnet.__version__}, python {__import__('sys').version.split()[0]}")
EOF
echo "${stamp}" >"${venv}/.installed"
log "done: activate with 'source ${venv}/bin/activate' (recipes do it through path.sh)"
