"""Printing for real over IPP (issue 17): declared printers, jobs, exactly-once print runs.

In: a tenant's declared printers (`renderer.tenants.PrinterDevice`: IPP URI, trays by purpose, duplex,
calibration), a layout's `printing` needs, PDF files. Out: `target` decides whether a printer can serve a
layout (before anything is spent); `ipp` sends jobs and reads their states through CUPS's ipptool; `journal`
and `run` print a run's files exactly once across kills and stopped printers. Nothing here reads resident
data: job names carry the run id and file number only.
"""
