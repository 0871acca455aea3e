"""Tests of the functional_training core.

A package, so that its test files may share names with other test trees.
"""
