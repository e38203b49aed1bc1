"""Opening a SONATA element (compartment) report with libsonata, after checking what libsonata needs.

libsonata stops on a report without its ``units`` attributes with an HDF5 error; a report that is
not one at all gives a long HDF5 error stack. Both are checked here first with h5py and refused
with one line naming the problem.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5

WHAT = "a SONATA compartment report"


def open_element_report(file_path: str | Path):
    """A ``libsonata.ElementReportReader`` of ``file_path``, checked.

    Raises
    ------
    FileNotFoundError
    InputError
        The file is not HDF5, has no ``/report/<population>`` groups, or lacks a dataset or the
        ``units`` attribute libsonata reads.
    """
    import libsonata

    file_path = Path(file_path)
    if not file_path.is_file():
        raise FileNotFoundError(f"Compartment report {file_path} does not exist.")
    with open_h5(file_path, WHAT) as file:
        reports = file.get("report")
        if not isinstance(reports, h5py.Group) or not len(reports):
            raise InputError(f"{file_path} is not {WHAT}: it has no /report/<population> group.")
        for population, group in reports.items():
            for key in ("data", "mapping/time", "mapping/node_ids", "mapping/index_pointers", "mapping/element_ids"):
                if key not in group:
                    raise InputError(f"{file_path} is not {WHAT}: /report/{population}/{key} is missing.")
            for key in ("data", "mapping/time"):
                if "units" not in group[key].attrs:
                    raise InputError(f"{file_path}: /report/{population}/{key} has no 'units' attribute, which "
                                     "libsonata needs; add it (e.g. 'nA' for data, 'ms' for time).")
    try:
        return libsonata.ElementReportReader(str(file_path))
    except (RuntimeError, libsonata.SonataError) as error:
        raise InputError(f"{file_path}: libsonata cannot read this report ({error}).") from None
