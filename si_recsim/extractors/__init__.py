"""Readers and writers between simulation files and SpikeInterface objects."""

from si_recsim.extractors.mearec import read_mearec_templates

__all__ = ["read_mearec_templates"]
