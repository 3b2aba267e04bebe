# Where the LibriTTS recipe finds its corpus.  Set these in your environment (or edit the
# defaults below).
#
# LIBRITTS: the folder that holds the subsets, <LIBRITTS>/train-clean-100/<speaker>/<chapter>/...
#   (the "LibriTTS" folder that the openslr tarballs unpack to).  The default is relative to
#   the recipe folder (egs2/libritts/tts1).  Subsets that are not there are downloaded only when
#   asked: ./run.sh --local_data_opts "--download true" (see local/data.sh).
# LIBRITTS_URL: where the tarballs are, openslr.org resource 60.
# LIBRITTS_XVECTORS: optional; a folder of 512-dim x-vectors named <LibriTTS utterance id>.npy
#   (subfolders allowed).  When set, stage 1 links them under our utterance ids and stage 6 uses
#   them (--spk_source files); see ../README.md.
LIBRITTS=${LIBRITTS:-downloads/LibriTTS}
LIBRITTS_URL=${LIBRITTS_URL:-https://www.openslr.org/resources/60}
LIBRITTS_XVECTORS=${LIBRITTS_XVECTORS:-}
