"""vfio-migcheck: a formal model and trace checker for the VFIO migration uAPI v2."""

__version__ = "0.1.0"
