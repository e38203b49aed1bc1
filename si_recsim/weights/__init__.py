"""SONATA electrodes ("weights") files for neurodamus.

Planned by the project's weights issue; this subpackage has no public API yet.
"""
