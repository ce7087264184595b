"""Faster algorithms for shenjing's ops, behind one seam: each module registers its algorithms by name
(``ALGORITHMS``) and picks one with a pure function of shapes, dtypes and arguments (``choose``); the op
in ``shenjing._ops`` that they speed up is their specification."""

from shenjing import _workspace  # noqa: F401,E402  (sets glibc's allocator thresholds once: see there)
