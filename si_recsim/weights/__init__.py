"""SONATA electrodes ("weights") files for neurodamus: electrode tables, segment geometry,
coefficients from the shared volume-conductor models, the file, its reader and comparison."""

from si_recsim.weights.electrodes import (Electrode, ElectrodeError, electrodes_from_probe, read_electrodes,
                                          read_electrodes_csv, read_electrodes_json)
from si_recsim.weights.electrodes_file import compare_electrodes_files, read_electrodes_file, write_electrodes_file
from si_recsim.weights.geometry import (CellList, CellSegments, GeometryFileCells, geometry_file_populations,
                                        read_geometry, write_geometry)

__all__ = [
    "CellList",
    "CellSegments",
    "GeometryFileCells",
    "Electrode",
    "ElectrodeError",
    "compare_electrodes_files",
    "electrodes_from_probe",
    "geometry_file_populations",
    "read_electrodes",
    "read_electrodes_csv",
    "read_electrodes_json",
    "read_electrodes_file",
    "read_geometry",
    "write_electrodes_file",
    "write_geometry",
]
