"""Template libraries: the data both halves share (below the recording engine and the biophysics),
their file formats (si_recsim's and MEArec's), the packaged default and analytic libraries."""

from si_recsim.library.analytic import make_analytic_library
from si_recsim.library.default import DEFAULT_LIBRARY, default_library_path
from si_recsim.library.library_file import read_template_library, write_template_library
from si_recsim.library.loading import load_template_library
from si_recsim.library.mearec_templates import read_mearec_templates, write_mearec_templates
from si_recsim.library.template_library import TemplateLibrary

__all__ = [
    "DEFAULT_LIBRARY",
    "TemplateLibrary",
    "default_library_path",
    "load_template_library",
    "make_analytic_library",
    "read_mearec_templates",
    "read_template_library",
    "write_mearec_templates",
    "write_template_library",
]
