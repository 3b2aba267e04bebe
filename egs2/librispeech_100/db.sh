# Where the LibriSpeech recipe finds its corpus.  Set LIBRISPEECH in your environment (or edit
# the default below) to a folder that holds the subsets, either directly
# (<LIBRISPEECH>/train-clean-100/...) or under LibriSpeech/ (<LIBRISPEECH>/LibriSpeech/dev-clean/...),
# which is how the openslr tarballs unpack.
# When it is empty, local/data.sh downloads each subset from LIBRISPEECH_URL (openslr.org,
# resource 12) into the recipe's downloads/ folder: about 6.3 GB for train-clean-100 and
# 1.3 GB for the four dev and test subsets.
LIBRISPEECH=${LIBRISPEECH:-}
LIBRISPEECH_URL=${LIBRISPEECH_URL:-https://www.openslr.org/resources/12}
