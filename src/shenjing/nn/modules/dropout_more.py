"""More dropout layers: ``Dropout3d``, ``AlphaDropout`` and ``FeatureAlphaDropout``
(see ``shenjing.nn._functional.dropout_more``)."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn._functional.dropout_more import alpha_dropout, dropout3d, feature_alpha_dropout
from shenjing.nn.modules.dropout import _DropoutNd

__all__ = ["Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class Dropout3d(_DropoutNd):
    """While training, zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    >>> from shenjing import nn
    >>> nn.Dropout3d(0.2)
    Dropout3d(p=0.2, inplace=False)
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (see ``F.alpha_dropout``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AlphaDropout(0.2).eval()(shenjing.ones(2))
    tensor([1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) input (see ``F.feature_alpha_dropout``).

    >>> from shenjing import nn
    >>> nn.FeatureAlphaDropout(0.3)
    FeatureAlphaDropout(p=0.3, inplace=False)
    """

    def forward(self, input: Tensor) -> Tensor:
        return feature_alpha_dropout(input, self.p, self.training)
