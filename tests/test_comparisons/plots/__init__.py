"""Tests of comparisons.plots, one file per module."""
