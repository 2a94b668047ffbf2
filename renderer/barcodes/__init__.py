"""Barcodes drawn as display-list rectangles: 日本郵便 カスタマバーコード and コンビニ収納 GS1-128.

In: postcodes and addresses (`customer`), payment-slip fields (`gs1`), and a size. Out: the encoded data
and a `BarcodeLayout` — filled `renderer.display.Rect` ops in PDF points (origin bottom-left) plus the
symbol box and its quiet-zone box, so a layout can check that the symbol and its blank margin fit the area
it reserves (a window envelope's window, a 納付書 slip). Nothing here imports ReportLab.
"""

from renderer.barcodes.common import BarcodeDataError, BarcodeGeometryError, BarcodeLayout, Box
from renderer.barcodes.customer import CustomerBarcode, customer_barcode
from renderer.barcodes.gs1 import ConvenienceBarcode, convenience_barcode

__all__ = [
    "BarcodeDataError",
    "BarcodeGeometryError",
    "BarcodeLayout",
    "Box",
    "ConvenienceBarcode",
    "CustomerBarcode",
    "convenience_barcode",
    "customer_barcode",
]
