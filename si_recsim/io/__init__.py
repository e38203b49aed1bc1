"""Readers and writers between simulation files and SpikeInterface objects: MEArec recordings, neo
spike trains, neurodamus (SONATA) reports and spike files, and conversions between formats."""

from si_recsim.io.convert import convert
from si_recsim.io.mearec_export import write_mearec_recording
from si_recsim.io.mearec_recording import (
                                           MEArecFileRecording,
                                           MEArecFileSorting,
                                           MEArecSpikeTracesRecording,
                                           read_mearec_drift,
                                           read_mearec_motion,
                                           read_mearec_positions,
                                           read_mearec_recording,
                                           read_mearec_recording_templates,
                                           read_mearec_waveforms,
)
from si_recsim.io.neo_spiketrains import sorting_from_neo_spiketrains, sorting_to_neo_spiketrains
from si_recsim.io.offline_lfp import OfflineLfpRecording, compute_lfp
from si_recsim.io.sonata_reports import (
                                           CompartmentReport,
                                           SonataLfpReportRecording,
                                           SonataSpikesSorting,
                                           read_compartment_report,
                                           read_sonata_lfp_report,
                                           read_sonata_spikes,
)

__all__ = [
    "CompartmentReport",
    "MEArecFileRecording",
    "MEArecFileSorting",
    "MEArecSpikeTracesRecording",
    "OfflineLfpRecording",
    "SonataLfpReportRecording",
    "SonataSpikesSorting",
    "compute_lfp",
    "convert",
    "read_compartment_report",
    "read_mearec_drift",
    "read_mearec_motion",
    "read_mearec_positions",
    "read_mearec_recording",
    "read_mearec_recording_templates",
    "read_mearec_waveforms",
    "read_sonata_lfp_report",
    "read_sonata_spikes",
    "sorting_from_neo_spiketrains",
    "sorting_to_neo_spiketrains",
    "write_mearec_recording",
]
