"""The embedded default template library, and the command that regenerates it.

The default library is made by this package's own template generation from the built-in cell
models on a Neuronexus-32 probe: ``near`` templates (cells 10-80 µm from the probe, MEArec's
acceptance rules) for the units of a recording, and ``far`` templates (cells 100-300 µm away,
no amplitude threshold) for ``far-neurons`` noise. It is stored in float16 (ample for µV-scale
templates) to stay a few MB.

Regenerate it with::

    python -m si_recsim.biophysics.default_library si_recsim/data/default_templates.h5
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from si_recsim.library.template_library import TemplateLibrary

NEAR = dict(probe="Neuronexus-32", n=60, seed=0)
FAR = dict(probe="Neuronexus-32", n=110, seed=1, xlim=[100, 300], min_amp=0, check_eap_shape=False, ncontacts=1)


def build_default_library(output: str | Path, cache_folder: str | Path | None = None) -> TemplateLibrary:
    """Generate the default library (near and far templates) and write it to ``output``."""
    from si_recsim.biophysics.template_generation import generate_template_library
    from si_recsim.library.library_file import write_template_library

    near = generate_template_library(bank=None, cache_folder=cache_folder, **NEAR)
    far = generate_template_library(bank=None, cache_folder=cache_folder, **FAR)
    library = TemplateLibrary(
        templates=np.concatenate([near.templates, far.templates]),
        locations=np.concatenate([near.locations, far.locations]),
        cell_models=np.concatenate([near.cell_models, far.cell_models]),
        rotations=np.concatenate([near.rotations, far.rotations]),
        sampling_frequency=near.sampling_frequency, nbefore=near.nbefore, probe=near.probe,
        source="si_recsim default library (built-in NEURON cell models on Neuronexus-32)",
        info=dict(near=near.info, far=far.info, n_near=near.num_templates, n_far=far.num_templates),
    )
    write_template_library(library, output, dtype="float16", overwrite=True)
    return library


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m si_recsim.biophysics.default_library OUTPUT.h5")
    built = build_default_library(sys.argv[1])
    print(f"{built.num_templates} templates written to {sys.argv[1]}")
