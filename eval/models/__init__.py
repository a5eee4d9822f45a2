"""Models under evaluation: loading a Hugging Face folder, content fingerprints, default scorer models."""
