"""SONATA for neurodamus: electrode tables, cell geometry sources, coefficients from the shared
volume-conductor models, the electrodes ("weights") file with its writers (processes, MPI) and
readers, and circuits read without NEURON (:mod:`si_recsim.sonata.circuits`)."""

from si_recsim.sonata.electrodes import (
                                         Electrode,
                                         ElectrodeError,
                                         electrodes_from_probe,
                                         read_electrodes,
                                         read_electrodes_csv,
                                         read_electrodes_json,
)
from si_recsim.sonata.electrodes_file import write_electrodes_file
from si_recsim.sonata.electrodes_file_reader import compare_electrodes_files, read_electrodes_file
from si_recsim.sonata.geometry_file import CellList, GeometryFileCells, geometry_file_populations, read_geometry, write_geometry

__all__ = [
    "CellList",
    "Electrode",
    "ElectrodeError",
    "GeometryFileCells",
    "compare_electrodes_files",
    "electrodes_from_probe",
    "geometry_file_populations",
    "read_electrodes",
    "read_electrodes_csv",
    "read_electrodes_file",
    "read_electrodes_json",
    "read_geometry",
    "write_electrodes_file",
    "write_geometry",
]
