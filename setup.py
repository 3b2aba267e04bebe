"""Package metadata for espnet2-speecht5."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent

setup(
    name="espnet2-speecht5",
    version="0.1.0",
    description="SpeechT5 (speech/text encoder-decoder) as an ESPnet2 plugin with Kaldi-style recipes",
    long_description=(here / "README.md").read_text(encoding="utf-8") if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["espnet2_speecht5", "espnet2_speecht5.*"]),
    install_requires=[
        "espnet==202511",
        "espnet_model_zoo==0.1.7",
        "torch>=2.1",
        "kaldiio>=2.18.0",
        "sentencepiece==0.2.0",
        "soundfile>=0.10.2",
        "configargparse>=1.2.1",
        "sacrebleu",
        "numpy",
        "scipy",
        "PyYAML",
        # TTS text normalisation
        "inflect",
        "sentencex>=1.0",
        "Unidecode",
    ],
    extras_require={"dev": ["pytest", "ruff"]},
    entry_points={"console_scripts": ["speecht5 = espnet2_speecht5.bin.speecht5_cli:console_main"]},
)
