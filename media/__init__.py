"""The media library (SPEC A1): uploads, checks, variants, serving."""
