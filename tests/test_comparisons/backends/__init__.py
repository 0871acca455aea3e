"""Tests of comparisons.backends, one file per backend module."""
