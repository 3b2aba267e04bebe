# Sourced by every recipe: activates the project's venv and puts utils/ on PATH.
# Recipes link to this file; it finds the repository from its own real location.
__speecht5_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -z "${SPEECHT5_NO_VENV:-}" ]; then
    __speecht5_venv=${SPEECHT5_VENV:-${__speecht5_root}/tools/venv}
    if [ ! -f "${__speecht5_venv}/bin/activate" ]; then
        echo "path.sh: no virtual environment at ${__speecht5_venv}; run ${__speecht5_root}/tools/install.sh first" >&2
        return 1 2>/dev/null || exit 1
    fi
    # shellcheck disable=SC1091
    . "${__speecht5_venv}/bin/activate"
fi
export SPEECHT5_ROOT=${__speecht5_root}
export PATH=${__speecht5_root}/utils:/usr/lib/sctk/bin:${PATH}
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
unset __speecht5_root __speecht5_venv
