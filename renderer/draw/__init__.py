"""Drawing: the only package that imports ReportLab's canvas (`reportlab.pdfgen`)."""

from renderer.draw.canvas import draw

__all__ = ["draw"]
