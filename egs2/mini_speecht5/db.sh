# Where the mini_speecht5 recipes find their corpus.  Nothing is downloaded: local/data.sh
# generates the corpus (espeak-ng voices, project-made noise) into MINI_SPEECHT5 when it is
# missing.  Set MINI_SPEECHT5 in your environment to keep it somewhere else.
__db_here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
MINI_SPEECHT5=${MINI_SPEECHT5:-${__db_here}/downloads/mini_speecht5}
# se1's test_realnoise set mixes the test speech with noise recordings (local/real_noise.list):
# by default the noise folder of ../shared/data beside the repository.
__db_noise=$(readlink -f "${__db_here}/../../../shared/data/noise" 2>/dev/null || true)
MINI_SPEECHT5_NOISE=${MINI_SPEECHT5_NOISE:-${__db_noise}}
unset __db_here __db_noise
