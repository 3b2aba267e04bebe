"""Finding and loading packed models: local zips and folders, URLs, the Hugging Face Hub, transformers folders."""
