"""Rules of the standard applied between bind and compose."""
