"""``espnet2_speecht5.bin.config_value``: one value of a YAML config for the stage driver."""

from __future__ import annotations

from pathlib import Path

from bin_helpers import assert_one_line_error, run_cli


def test_prints_nested_values_defaults_and_one_line_errors(tmp_path: Path):
    config = tmp_path / "train.yaml"
    config.write_text("model_conf:\n    label_rate: 100\n    use_codebook: false\n    empty:\n"
                      "net_conf: {size: tiny}\nbatch_size: 3\n")

    def value(*args: str) -> str:
        proc = run_cli("config_value", "--config", str(config), *args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert value("--key", "model_conf.label_rate", "--default", "50") == "100\n"
    assert value("--key", "model_conf.use_codebook") == "false\n"
    assert value("--key", "batch_size") == "3\n"
    for missing in ("model_conf.num_clusters", "model_conf.empty", "other.label_rate"):
        assert value("--key", missing, "--default", "50") == "50\n"
    assert_one_line_error(run_cli("config_value", "--config", str(config), "--key", "model_conf.num_clusters"),
                          str(config), "has no key model_conf.num_clusters")
    assert_one_line_error(run_cli("config_value", "--config", str(config), "--key", "batch_size.x", "--default", "1"),
                          "batch_size is not a mapping")
    assert_one_line_error(run_cli("config_value", "--config", str(config), "--key", "net_conf"),
                          "net_conf is a dict, not one value")
    assert_one_line_error(run_cli("config_value", "--config", str(tmp_path / "no.yaml"), "--key", "a"),
                          "no such configuration file")
