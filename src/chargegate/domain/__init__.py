"""Pure rules: states, time handling and validation. Nothing here does I/O."""
