"""Layers, one file per kind, with PyTorch's names."""

from shenjing.nn.modules.module import *  # noqa: F401,F403
from shenjing.nn.modules.container import *  # noqa: F401,F403
from shenjing.nn.modules.parameter_container import *  # noqa: F401,F403
from shenjing.nn.modules.flatten import *  # noqa: F401,F403
from shenjing.nn.modules.linear import *  # noqa: F401,F403
from shenjing.nn.modules.conv import *  # noqa: F401,F403
from shenjing.nn.modules.conv_transpose import *  # noqa: F401,F403
from shenjing.nn.modules.pooling import *  # noqa: F401,F403
from shenjing.nn.modules.activation import *  # noqa: F401,F403
from shenjing.nn.modules.activation_more import *  # noqa: F401,F403
from shenjing.nn.modules.dropout import *  # noqa: F401,F403
from shenjing.nn.modules.dropout_more import *  # noqa: F401,F403
from shenjing.nn.modules.normalization import *  # noqa: F401,F403
from shenjing.nn.modules.instancenorm import *  # noqa: F401,F403
from shenjing.nn.modules.sparse import *  # noqa: F401,F403
from shenjing.nn.modules.rnn import *  # noqa: F401,F403
from shenjing.nn.modules.loss import *  # noqa: F401,F403
from shenjing.nn.modules.padding import *  # noqa: F401,F403
from shenjing.nn.modules.pixelshuffle import *  # noqa: F401,F403
from shenjing.nn.modules.upsampling import *  # noqa: F401,F403
from shenjing.nn.modules.fold import *  # noqa: F401,F403
from shenjing.nn.modules.distance import *  # noqa: F401,F403
from shenjing.nn.modules.margin_loss import *  # noqa: F401,F403
from shenjing.nn.modules.likelihood_loss import *  # noqa: F401,F403
from shenjing.nn.modules.attention import *  # noqa: F401,F403
from shenjing.nn.modules.transformer import *  # noqa: F401,F403
