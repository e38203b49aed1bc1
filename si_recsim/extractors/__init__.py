"""Readers and writers between simulation files and SpikeInterface objects."""

from si_recsim.extractors.convert import convert
from si_recsim.extractors.library_file import read_template_library, write_template_library
from si_recsim.extractors.mearec import read_mearec_templates, write_mearec_templates
from si_recsim.extractors.mearec_recording import (MEArecFileRecording, MEArecFileSorting, read_mearec_drift,
                                                   read_mearec_recording, read_mearec_recording_templates,
                                                   write_mearec_recording)
from si_recsim.extractors.neo_spiketrains import sorting_from_neo_spiketrains, sorting_to_neo_spiketrains
from si_recsim.extractors.sonata import (CompartmentReport, SonataLfpReportRecording, SonataSpikesSorting,
                                         read_compartment_report, read_sonata_lfp_report, read_sonata_spikes)

__all__ = [
    "CompartmentReport",
    "MEArecFileRecording",
    "MEArecFileSorting",
    "SonataLfpReportRecording",
    "SonataSpikesSorting",
    "convert",
    "read_mearec_drift",
    "read_mearec_recording",
    "read_mearec_recording_templates",
    "read_mearec_templates",
    "read_compartment_report",
    "read_sonata_lfp_report",
    "read_sonata_spikes",
    "read_template_library",
    "sorting_from_neo_spiketrains",
    "sorting_to_neo_spiketrains",
    "write_mearec_recording",
    "write_mearec_templates",
    "write_template_library",
]
