"""One module per outside system, each with a real and a local implementation."""
