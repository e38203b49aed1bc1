import numpy as np
import pytest
import yaml

from si_recsim import ParameterError, build_params, get_default_recording_params


def test_defaults_follow_mearec_layout():
    params = get_default_recording_params()
    assert set(params) >= {"spiketrains", "cell_types", "seeds", "templates", "recordings"}
    assert params["spiketrains"]["n_exc"] == 7 and params["spiketrains"]["n_inh"] == 3
    assert params["recordings"]["filter_cutoff"] == [300, 6000]
    assert params["templates"]["min_dist"] == 25


def test_unknown_key_names_the_close_match():
    with pytest.raises(ParameterError, match="Did you mean 'recordings.noise_level'"):
        build_params({"recordings": {"noise_levl": 3}})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"spiketrains.duration": -1}, "spiketrains.duration"),
        ({"recordings.modulation": "channel"}, "recordings.modulation"),
        ({"recordings.filter_cutoff": [6000, 300]}, "low < high"),
        ({"templates.max_amp": 10}, "larger than"),
        ({"recordings.dtype": "complex64"}, "float or integer"),
        ({"recordings.adc_bit_depth": 12}, "integer dtypes"),
        ({"spiketrains.rates": [5, 5]}, "spiketrains.types"),
        ({"spiketrains.ref_per": 200}, "refractory"),
        ({"recordings.drift_mode_speed": "medium"}, "drift_mode_speed"),
        ({"recordings.noise_level": "loud"}, "recordings.noise_level"),
        ({"recordings.filter": 1}, "recordings.filter"),
        ({"spiketrains.n_exc": 2.5}, "spiketrains.n_exc"),
        ({"templates.xlim": [80, 10]}, "templates.xlim"),
        ({"recordings.sync_rate": float("nan")}, "recordings.sync_rate"),
    ],
)
def test_bad_values_raise_before_work(overrides, message):
    with pytest.raises(ParameterError, match=message):
        build_params(None, **overrides)


def test_yaml_file_with_partial_sections(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("spiketrains:\n  duration: 3\nrecordings:\n  noise_level: 4\n")
    params = build_params(path)
    assert params.spiketrains.duration == 3 and params.recordings.noise_level == 4
    assert params.recordings.filter is True


def test_seeds_derive_from_global_seed_and_are_concrete():
    first = build_params(None, seed=3)
    second = build_params(None, seed=3)
    assert first.seeds == second.seeds
    seeds = first.seeds.model_dump()
    assert all(isinstance(value, int) for value in seeds.values())
    assert len(set(seeds.values())) == 4
    # derived with SeedSequence(seed).spawn, one child per stage, as the README says
    children = np.random.SeedSequence(3).spawn(4)
    assert seeds["noise"] == int(children[3].generate_state(1, dtype=np.uint32)[0])
    explicit = build_params({"seeds": {"noise": 7}}, seed=3)
    assert explicit.seeds.noise == 7 and explicit.seeds.spiketrains == first.seeds.spiketrains
    random = build_params(None)
    assert isinstance(random.seed, int)


def test_mearec_default_parameter_file_loads_unchanged():
    from pathlib import Path

    import MEArec
    import yaml

    mearec_file = Path(MEArec.__file__).parent / "default_params" / "recordings_params.yaml"
    mearec_params = yaml.safe_load(mearec_file.read_text())
    params = build_params(mearec_file, seed=0)
    for section, values in mearec_params.items():
        if section == "seeds":
            continue
        for key, value in values.items():
            assert getattr(getattr(params, section), key) == value, f"{section}.{key}"


def test_commented_defaults_load_back_as_the_defaults_and_describe_every_key():
    from si_recsim.params.recordings import default_recording_params_yaml
    from si_recsim.params.templates import default_template_params_yaml, get_default_template_params

    text = default_recording_params_yaml()
    assert yaml.safe_load(text) == get_default_recording_params()
    assert "noise_level: 10.0  # noise standard deviation in uV before filtering" in text
    assert yaml.safe_load(default_template_params_yaml()) == get_default_template_params()
    keys = [line.split(":")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert all("  # " in line for line in text.splitlines() if line.startswith(" ") and ":" in line), keys


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("spiketrains:\n  duration: 3\n  n_exc: [1, 2\n")
    with pytest.raises(ParameterError, match=r"broken.yaml, line \d+: YAML syntax error"):
        build_params(path)


def test_typed_values_and_mearec_layout_out():
    params = build_params({"spiketrains": {"duration": 3}}, **{"recordings.filter_cutoff": 300})
    assert params.spiketrains.duration == 3.0 and isinstance(params.spiketrains.n_exc, int)
    dumped = params.model_dump()
    assert dumped["recordings"]["filter_cutoff"] == 300 and dumped["spiketrains"]["duration"] == 3
    assert build_params(dumped).model_dump() == dumped  # a dump reloads to itself, seeds included
