"""Runtime state under the state directory (never in the repository)."""
