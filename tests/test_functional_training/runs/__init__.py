"""Tests of functional_training.runs.

A package, so that its test files may share names with other test trees.
"""
