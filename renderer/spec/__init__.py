"""The layout language: load (YAML with line numbers), model (pydantic), validate (diagnostics)."""
