"""Fixtures of the speaker tests: a randomly initialised ESPnet speaker model saved as an experiment."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import yaml
from spk_helpers import tiny_spk_conf


@pytest.fixture(scope="session")
def random_spk_exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``config.yaml`` + ``valid.eer.best.pth`` of a tiny x-vector model built by ESPnet's SpeakerTask."""
    from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

    with quiet_espnet():
        from espnet2.tasks.spk import SpeakerTask

    root = tmp_path_factory.mktemp("spk_exp")
    conf = tiny_spk_conf(dim=512, spk_num=3)
    torch.manual_seed(0)
    model = SpeakerTask.build_model(argparse.Namespace(**conf))
    (root / "config.yaml").write_text(yaml.safe_dump(conf))
    torch.save(model.state_dict(), root / "valid.eer.best.pth")
    return root
