"""Tests of functional_training/_models, one file per model kind."""
