"""Template libraries: extracellular action potentials of many cells placed in front of one probe.

A :class:`TemplateLibrary` is what recordings draw their units from. It can come from this
package's template generation (the embedded default, :mod:`si_recsim.biophysics.default_library`,
or any ``gen-templates`` file), from a MEArec template file
(:func:`si_recsim.library.read_mearec_templates`), from SpikeInterface ``Templates``
(:meth:`TemplateLibrary.from_templates`) or from SpikeInterface's analytic ``generate_templates``
(:func:`make_analytic_library`: not biophysical, labelled as such in ``source``).

Libraries are described by a JSON-friendly *spec* so that recordings built from them can be
serialised: a file path, the string ``"default"``, or a dictionary of arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from probeinterface import Probe

from si_recsim.errors import InputError
from si_recsim.probes import contact_positions_3d


@dataclass
class TemplateLibrary:
    """Extracellular templates with their cells' positions and types.

    Attributes
    ----------
    templates : np.ndarray
        (n_templates, n_samples, n_channels) float32, µV; drifting libraries have a drift axis:
        (n_templates, n_drift_steps, n_samples, n_channels).
    locations : np.ndarray
        (n_templates, 3) soma positions in µm, si_recsim frame (see :mod:`si_recsim.probes`);
        (n_templates, n_drift_steps, 3) along each drift trajectory for drifting libraries.
    cell_models : np.ndarray
        Cell model name per template (str); E/I categories come from substring rules.
    sampling_frequency : float
        Hz.
    nbefore : int
        Sample index of the spike time (the trough) inside each template.
    probe : Probe
        The probe the templates were computed on, channel order = template channel order.
    rotations : np.ndarray | None
        (n_templates, 3) Euler angles in radians, when known.
    spike_indices : np.ndarray | None
        (n_templates,) which spike of its cell model's currents each template carries, for libraries
        made from membrane currents (a cell bank), so templates can be recomputed elsewhere.
    source : str
        Where the templates come from (human-readable).
    spec : str | dict | None
        How to rebuild this library (see :func:`load_template_library`).
    info : dict
        Generation parameters carried along (e.g. MEArec's ``info/params``).
    """

    templates: np.ndarray
    locations: np.ndarray
    cell_models: np.ndarray
    sampling_frequency: float
    nbefore: int
    probe: Probe
    rotations: np.ndarray | None = None
    spike_indices: np.ndarray | None = None
    source: str = ""
    spec: str | dict | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.templates = np.asarray(self.templates, dtype=np.float32)
        self.locations = np.asarray(self.locations, dtype=float)
        self.cell_models = np.asarray(self.cell_models).astype(str)
        if self.templates.ndim not in (3, 4):
            raise InputError(
                "Library templates must be (n_templates, n_samples, n_channels), or (n_templates, n_drift_steps, "
                f"n_samples, n_channels) for drifting libraries; got shape {self.templates.shape}."
            )
        n_templates, n_samples, n_channels = (self.templates.shape[0],) + self.templates.shape[-2:]
        expected = (n_templates, 3) if self.templates.ndim == 3 else (n_templates, self.templates.shape[1], 3)
        if self.locations.shape != expected:
            raise InputError(f"Library locations must be {expected}; got {self.locations.shape}.")
        if self.cell_models.shape != (n_templates,):
            raise InputError(f"Library needs one cell model name per template ({n_templates}); got {self.cell_models.shape}.")
        if self.probe.get_contact_count() != n_channels:
            raise InputError(
                f"Library probe has {self.probe.get_contact_count()} contacts but templates have {n_channels} channels."
            )
        if not 0 <= self.nbefore < n_samples:
            raise InputError(f"nbefore ({self.nbefore}) must be inside the template (0..{n_samples - 1}).")
        if self.spike_indices is not None:
            self.spike_indices = np.asarray(self.spike_indices, dtype=np.int32).reshape(n_templates)
        if not np.all(np.isfinite(self.templates)):
            raise InputError("Library templates contain NaN or infinite values.")

    @property
    def num_templates(self) -> int:
        return self.templates.shape[0]

    @property
    def num_channels(self) -> int:
        return self.templates.shape[-1]

    @property
    def drift_steps(self) -> int | None:
        """Positions per drift trajectory, or None for a static library."""
        return self.templates.shape[1] if self.templates.ndim == 4 else None

    def static(self) -> TemplateLibrary:
        """Templates and locations of one position per template (the middle of each drift trajectory)."""
        if self.drift_steps is None:
            return self
        middle = self.drift_steps // 2
        return TemplateLibrary(templates=self.templates[:, middle], locations=self.locations[:, middle],
                               cell_models=self.cell_models, sampling_frequency=self.sampling_frequency,
                               nbefore=self.nbefore, probe=self.probe, rotations=self.rotations,
                               spike_indices=self.spike_indices, source=self.source,
                               info=self.info)

    @property
    def channel_locations(self) -> np.ndarray:
        """(n_channels, 3) contact centres in µm, si_recsim frame."""
        return contact_positions_3d(self.probe)

    def amplitudes(self) -> np.ndarray:
        """Absolute global negative peak of each template (over all drift steps), µV."""
        return np.abs(self.templates.reshape(self.num_templates, -1).min(axis=1))

    def to_spec(self) -> str | dict:
        """A JSON-friendly description from which :func:`load_template_library` rebuilds this library."""
        if self.spec is not None:
            return self.spec
        return dict(
            templates=self.templates, locations=self.locations, cell_models=self.cell_models.tolist(),
            sampling_frequency=float(self.sampling_frequency), nbefore=int(self.nbefore),
            probe=self.probe.to_dict(array_as_list=True),
            rotations=self.rotations, source=self.source,
        )

    @classmethod
    def from_templates(cls, templates, locations: np.ndarray, cell_models, rotations: np.ndarray | None = None,
                       source: str = "spikeinterface Templates") -> TemplateLibrary:
        """Build a library from SpikeInterface ``Templates`` (dense, with a probe).

        Parameters
        ----------
        templates : spikeinterface.core.Templates
            Must carry a probe; sparse templates are densified.
        locations : np.ndarray
            (n_units, 3) cell positions in µm (x, y in the probe plane, z distance from it).
        cell_models : list of str
            Cell model name per unit (E/I is decided by the ``cell_types`` substring rules).
        rotations : np.ndarray | None, default: None
        source : str, default: "spikeinterface Templates"
        """
        if templates.probe is None:
            raise InputError("These Templates have no probe: build them with probe=... so channels have positions.")
        probe = templates.probe.copy()
        if probe.device_channel_indices is None:
            probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
        return cls(templates=templates.get_dense_templates(), locations=locations, cell_models=cell_models,
                   sampling_frequency=templates.sampling_frequency, nbefore=templates.nbefore, probe=probe,
                   rotations=rotations, source=source)

    def to_templates(self):
        """The library as SpikeInterface ``Templates`` (dense, with the probe; the middle drift step
        of drifting libraries)."""
        from spikeinterface.core import Templates

        return Templates(templates_array=self.static().templates, sampling_frequency=self.sampling_frequency,
                         nbefore=self.nbefore, probe=self.probe, is_in_uV=True)
