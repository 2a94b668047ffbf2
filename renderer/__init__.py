"""標準帳票 rendering service: declarative layouts + JSON data → PDF that obeys the standard by construction."""
