"""Command lines above the library: each module parses its arguments, runs it and answers with exit codes."""
