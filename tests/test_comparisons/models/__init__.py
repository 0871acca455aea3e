"""Tests of comparisons.models, one file per model kind."""
