"""The printing tests (issue 17): loopback IPP printers, `chohyo print`, `chohyo batch --print-to`."""
