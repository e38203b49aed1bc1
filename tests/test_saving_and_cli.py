import subprocess
import sys

import numpy as np
import pytest
import yaml

from si_recsim import generate_ground_truth, load_ground_truth, save_ground_truth
from si_recsim.cli import main

PROPERTIES = ("gt_unit_locations", "main_channel_id", "cell_type", "cell_model", "firing_rate", "bursting",
              "template_id")


@pytest.mark.parametrize("format", ["binary", "zarr"])
def test_saved_folder_keeps_traces_probe_and_ground_truth(tmp_path, format):
    recording, sorting = generate_ground_truth(seed=21, **{"spiketrains.duration": 2})
    folder = save_ground_truth(recording, sorting, tmp_path / "gt", format=format, progress_bar=False)
    loaded_recording, loaded_sorting = load_ground_truth(folder)
    assert np.array_equal(loaded_recording.get_traces(), recording.get_traces())
    assert np.allclose(loaded_recording.get_channel_locations(), recording.get_channel_locations())
    for key in PROPERTIES:
        assert np.array_equal(loaded_sorting.get_property(key), sorting.get_property(key)), key
    for unit in sorting.unit_ids:
        assert np.array_equal(loaded_sorting.get_unit_spike_train(unit), sorting.get_unit_spike_train(unit))
    params = yaml.safe_load((folder / "params.yaml").read_text())
    assert params["seeds"] == recording.get_annotation("si_recsim_params")["seeds"]
    assert [path.name for path in tmp_path.iterdir()] == ["gt"]


def test_save_refuses_to_overwrite(tmp_path):
    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 1})
    (tmp_path / "gt").mkdir()
    with pytest.raises(FileExistsError):
        save_ground_truth(recording, sorting, tmp_path / "gt")


def test_cli_generates_a_reproducible_folder(tmp_path):
    params_file = tmp_path / "my_params.yaml"
    params_file.write_text("spiketrains:\n  n_exc: 3\n  n_inh: 2\nrecordings:\n  noise_level: 5\n")
    for name in ("a", "b"):
        command = [sys.executable, "-m", "si_recsim.cli", "gen-recordings", "-p", str(params_file), "-d", "1.5",
                   "--seed", "7", "-o", str(tmp_path / name), "--no-progress", "--set", "recordings.sdrand=0.1"]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        assert completed.returncode == 0, completed.stderr
    first, first_sorting = load_ground_truth(tmp_path / "a")
    second, _ = load_ground_truth(tmp_path / "b")
    assert np.array_equal(first.get_traces(), second.get_traces())
    assert first_sorting.get_num_units() == 5
    params = yaml.safe_load((tmp_path / "a" / "params.yaml").read_text())
    assert params["seed"] == 7 and params["recordings"]["noise_level"] == 5 and params["recordings"]["sdrand"] == 0.1


def test_cli_bad_parameter_fails_fast_without_output(tmp_path, capsys):
    status = main(["gen-recordings", "-o", str(tmp_path / "out"), "--set", "recordings.filter_cutoff=[6000, 300]"])
    assert status == 2
    assert "low < high" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_lists_probes(capsys):
    assert main(["available-probes"]) == 0
    output = capsys.readouterr().out
    assert "Neuronexus-32" in output and "Neuropixels-384" in output


def test_cli_default_params_start_a_parameter_file(tmp_path, capsys):
    path = tmp_path / "my_params.yaml"
    assert main(["default-params", "recordings", "-o", str(path)]) == 0
    text = path.read_text()
    assert "# noise standard deviation in uV before filtering" in text
    path.write_text(text.replace("duration: 10.0", "duration: 1.5"))
    assert main(["gen-recordings", "-p", str(path), "-o", str(tmp_path / "gt"), "--seed", "2", "--no-progress"]) == 0
    saved = yaml.safe_load((tmp_path / "gt" / "params.yaml").read_text())
    assert saved["spiketrains"]["duration"] == 1.5 and saved["recordings"]["noise_level"] == 10
    assert main(["default-params", "templates"]) == 0
    assert "rot: physrot" in capsys.readouterr().out


def test_cli_version_help_and_defaults(capsys):
    from si_recsim import __version__

    assert main([]) == 0
    assert "gen-recordings" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and __version__ in capsys.readouterr().out
    for command, expected in (("gen-recordings", ["default: 10", "default: Neuronexus-32", "default: 1"]),
                              ("gen-templates", ["default: 50", "default: Neuronexus-32"]),
                              ("compare-weights", ["default: 1e-09", "an electrodes file"]),
                              ("convert", ["target format", "the file or folder to write"])):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for words in expected:
            assert words in text, (command, words)


def test_cli_errors_speak_the_command_lines_language(tmp_path, capsys):
    (tmp_path / "taken.h5").write_bytes(b"not ours")
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,layer,region,type\ne0,0,0,0,L1,S1,LineSource\n")
    assert main(["write-weights", str(tmp_path / "missing.json"), str(table), str(tmp_path / "taken.h5")]) == 2
    error = capsys.readouterr().err
    assert "--output" not in error and "overwrite=True" not in error
    assert main(["default-params", "recordings", "-o", str(tmp_path / "taken.h5"), "--overwrite"]) == 2
    assert "=True" not in capsys.readouterr().err
