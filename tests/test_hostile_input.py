"""Hostile and malformed input is refused up front: one line naming the problem and the fix, exit 2, no output."""

import json
import shutil
import time

import h5py
import numpy as np
import pytest

import si_recsim.resources as resources
from si_recsim import generate_ground_truth, load_ground_truth, save_ground_truth
from si_recsim.cli import main
from si_recsim.errors import InputError
from si_recsim.io.mearec_export import write_mearec_recording
from si_recsim.io.mearec_recording import read_mearec_recording
from si_recsim.jobs import resolve_n_jobs
from si_recsim.library.library_file import write_template_library
from si_recsim.library.loading import load_template_library
from si_recsim.library.mearec_templates import write_mearec_templates
from si_recsim.params.recordings import build_params
from si_recsim.recording.budget import check_recording_budget
from si_recsim.resources import ResourceError
from si_recsim.sonata.electrodes import ElectrodeError, read_electrodes


def _refused(capsys, arguments: list[str], *words: str) -> str:
    started = time.perf_counter()
    assert main(arguments) == 2
    assert time.perf_counter() - started < 30  # before any long work
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("error: "), error
    for word in words:
        assert word in error, error
    return error


@pytest.mark.parametrize("setting, words", [
    ("spiketrains.duration=1e12", ("frames",)),
    ("spiketrains.duration=1e9", ("memory", "--allow-large")),
    ("spiketrains.n_exc=1e9", ("memory", "1000000003 units")),
    ("recordings.fs=1e12", ("memory",)),
    ("spiketrains.f_exc=1e9", ("memory",)),
])
def test_absurd_recordings_are_refused_before_work(tmp_path, capsys, setting, words):
    _refused(capsys, ["gen-recordings", "-o", str(tmp_path / "out"), "--set", setting, "--set",
                      "spiketrains.ref_per=0"], *words)
    assert not (tmp_path / "out").exists()


def test_the_budget_follows_the_machine_and_can_be_overridden(monkeypatch):
    params = build_params(**{"spiketrains.duration": 3600, "spiketrains.n_exc": 100})
    check_recording_budget(params, 384)  # an hour of 103 units fits in a few GB
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 10**6)
    with pytest.raises(ResourceError, match="allow_large=True"):
        check_recording_budget(params, 384)
    check_recording_budget(params, 384, allow_large=True)


def test_saving_more_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    recording, sorting = generate_ground_truth(seed=0, **{"spiketrains.duration": 2})
    monkeypatch.setattr(resources, "free_disk_bytes", lambda path: 1000)
    with pytest.raises(ResourceError, match="free at"):
        save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)
    assert list(tmp_path.iterdir()) == []
    save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False, allow_large=True)


def test_absurd_libraries_are_refused_before_work(tmp_path, capsys):
    _refused(capsys, ["gen-templates", "-n", "1000000000", "-o", str(tmp_path / "lib.h5")], "memory", "lower n")
    assert list(tmp_path.iterdir()) == []


def test_yaml_alias_bombs_and_syntax_errors_name_the_file_and_line(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{','.join(['*' + previous] * 9)}]")
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 600  # expands to 9**9 strings
    _refused(capsys, ["gen-recordings", "-p", str(bomb), "-o", str(tmp_path / "out")], "aliases", "line 2",
             str(bomb))
    broken = tmp_path / "broken.yaml"
    broken.write_text("spiketrains:\n  n_exc: [1\n")
    _refused(capsys, ["gen-recordings", "-p", str(broken), "-o", str(tmp_path / "out")], str(broken), "line 3",
             "YAML syntax error")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bomb.yaml", "broken.yaml"]


def test_exponent_notation_is_a_number():
    params = build_params(**{"spiketrains.duration": "2e1", "recordings.noise_level": "1E1"})
    assert params.spiketrains.duration == 20.0 and params.recordings.noise_level == 10.0


@pytest.fixture(scope="module")
def good_mearec_file(tmp_path_factory):
    recording, sorting = generate_ground_truth(seed=3, **{"spiketrains.duration": 1})
    return write_mearec_recording(recording, sorting, tmp_path_factory.mktemp("mearec") / "good.h5",
                                  progress_bar=False)


def _strings(file):
    data = file["recordings"][()]
    del file["recordings"]
    file["recordings"] = data.astype("S8")


def _one_dimensional(file):
    data = file["recordings"][()]
    del file["recordings"]
    file["recordings"] = data[:, 0]


def _no_fs(file):
    del file["info/recordings/fs"]


def _negative_fs(file):
    file["info/recordings/fs"][()] = -32000.0


def _flat_positions(file):
    positions = file["channel_positions"][()]
    del file["channel_positions"]
    file["channel_positions"] = positions[:, 1:]


def _string_times(file):
    times = file["spiketrains/0/times"][()]
    del file["spiketrains/0/times"]
    file["spiketrains/0/times"] = times.astype(str).astype("S")


@pytest.mark.parametrize("damage, words", [
    (_strings, ("'recordings' holds |S8",)), (_one_dimensional, ("'recordings' has 1 dimension",)),
    (_no_fs, ("info/recordings/fs must be a positive number",)), (_negative_fs, ("-32000",)),
    (_flat_positions, ("'channel_positions' has shape",)), (_string_times, ("spiketrains/0/times",)),
])
def test_malformed_mearec_files_are_refused_on_open(good_mearec_file, tmp_path, capsys, damage, words):
    bad = tmp_path / "bad.h5"
    shutil.copy(good_mearec_file, bad)
    with h5py.File(bad, "a") as file:
        damage(file)
    with pytest.raises(InputError):
        read_mearec_recording(bad)
    _refused(capsys, ["convert", str(bad), str(tmp_path / "out"), "--to", "binary"], *words)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.h5"]


def _truncated(source, target):
    data = source.read_bytes()
    target.write_bytes(data[: len(data) * 2 // 3])
    return target


def test_truncated_and_foreign_files_are_refused(good_mearec_file, tmp_path, capsys):
    truncated = _truncated(good_mearec_file, tmp_path / "truncated.h5")
    _refused(capsys, ["convert", str(truncated), str(tmp_path / "out"), "--to", "binary"], "truncated")
    library = load_template_library("default")
    for name, writer in (("library.h5", write_template_library), ("mearec_templates.h5", write_mearec_templates)):
        whole = writer(library, tmp_path / name)
        cut = _truncated(whole, tmp_path / f"cut_{name}")
        with pytest.raises(InputError, match="truncated"):
            load_template_library(cut)
        _refused(capsys, ["gen-recordings", "-t", str(cut), "-o", str(tmp_path / "out")], str(cut))
    notes = tmp_path / "notes.h5"
    notes.write_text("not HDF5 at all")
    _refused(capsys, ["gen-recordings", "-t", str(notes), "-o", str(tmp_path / "out")], "cannot be opened as HDF5")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", [".", "..", "a\x00b", "tab\there"])
def test_electrode_names_that_cannot_name_a_group_are_refused(tmp_path, name):
    table = tmp_path / "electrodes.json"
    table.write_text(json.dumps([{"name": name, "x": 0, "y": 0, "z": 0, "type": "LineSource"}]))
    with pytest.raises(ElectrodeError, match="cannot name an HDF5 group"):
        read_electrodes(table)


def test_electrode_tables_must_be_utf8_and_may_start_with_a_bom(tmp_path):
    table = tmp_path / "electrodes.csv"
    table.write_bytes("\ufeffname,x,y,z,layer,region,type\né1,0,0,0,L1,S1,LineSource\n".encode())
    assert [electrode.name for electrode in read_electrodes(table)] == ["é1"]
    table.write_bytes(b"name,x,y,z,layer,region,type\n\xff\xfe,0,0,0,L1,S1,LineSource\n")
    with pytest.raises(ElectrodeError, match="not UTF-8"):
        read_electrodes(table)


@pytest.mark.parametrize("value", [0, -2, 0.0, 1.5, -0.5, True, "2"])
def test_worker_counts_are_checked(value):
    with pytest.raises(InputError, match="n_jobs"):
        resolve_n_jobs(value)


def test_cli_worker_counts_are_checked(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["gen-recordings", "-j", "0", "-o", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "-j expects a positive number" in capsys.readouterr().err


def test_a_bug_keeps_its_traceback(monkeypatch):
    import si_recsim.recording.ground_truth as ground_truth

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(ground_truth, "generate_ground_truth", broken)
    with pytest.raises(KeyError):
        main(["gen-recordings", "-o", "never_written"])


@pytest.fixture
def saved_folder(tmp_path):
    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 0.5})
    return save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)


def test_loading_refuses_folders_naming_foreign_classes(saved_folder):
    description = saved_folder / "recording" / "si_folder.json"
    tree = json.loads(description.read_text())
    tree["class"] = "os.system"
    description.write_text(json.dumps(tree))
    with pytest.raises(InputError, match="os.system"):
        load_ground_truth(saved_folder)


def test_loading_refuses_pickles(saved_folder):
    np.save(saved_folder / "sorting" / "properties" / "evil.npy", np.array([object()], dtype=object),
            allow_pickle=True)
    with pytest.raises(InputError, match="Python objects"):
        load_ground_truth(saved_folder)
    (saved_folder / "sorting" / "properties" / "evil.npy").unlink()
    (saved_folder / "recording" / "provenance.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(InputError, match="pickle"):
        load_ground_truth(saved_folder)


@pytest.mark.parametrize("command", [
    ["write-weights", "{bad}", "{table}", "{out}"],
    ["compare-weights", "{bad}", "{bad}"],
    ["convert", "{bad}", "{out}", "--to", "binary"],
])
def test_a_file_that_is_not_hdf5_is_one_line_not_a_traceback(tmp_path, capsys, command):
    bad = tmp_path / "bad.h5"
    bad.write_text("not HDF5")
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,layer,region,type\ne0,0,0,0,L1,S1,LineSource\n")
    arguments = [part.format(bad=bad, table=table, out=tmp_path / "out.h5") for part in command]
    _refused(capsys, arguments, "cannot be opened as HDF5")
