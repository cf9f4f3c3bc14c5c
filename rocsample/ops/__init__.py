"""Kernel families beyond sampling, as data plus their numpy twins.

:mod:`rocsample.ops.elementwise` holds Candle's elementwise family (unary, affine, where):
entry names and signatures, layouts, launch geometry and the numpy implementation;
:mod:`rocsample.ops.mlp` the MLP family (SwiGLU, RMSNorm, fused-add RMSNorm).

Example
-------
>>> from rocsample.ops import elementwise
>>> elementwise.MODULES["affine"].env_var
'AFFINE_HSACO'
"""

from __future__ import annotations

from . import elementwise, mlp

__all__ = ["elementwise", "mlp"]
