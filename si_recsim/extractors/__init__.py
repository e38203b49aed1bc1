"""Readers and writers between simulation files and SpikeInterface objects."""

from si_recsim.extractors.library_file import read_template_library, write_template_library
from si_recsim.extractors.mearec import read_mearec_templates, write_mearec_templates

__all__ = ["read_mearec_templates", "read_template_library", "write_mearec_templates", "write_template_library"]
