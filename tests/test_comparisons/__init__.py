"""Tests of the comparisons package.

A package, so that its test files may share names with other test trees.
"""
