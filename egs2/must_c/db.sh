# Where the MuST-C recipe finds its corpus: the folder that holds en-de/ and en-fr/ of a MuST-C
# release (https://ict.fbk.eu/must-c/; it needs a licence form, so the recipe cannot download it).
MUST_C=${MUST_C:-}
