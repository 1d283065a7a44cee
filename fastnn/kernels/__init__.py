"""Numba-compiled kernels: plain functions of arrays and scalars, no Python objects."""
