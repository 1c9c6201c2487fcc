"""Trace readers, one subpackage per format, and the event vocabulary they all produce."""
