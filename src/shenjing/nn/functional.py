"""Functional forms of the neural-network ops: ``import shenjing.nn.functional as F``.

Each kind of op lives in its own file under ``shenjing/nn/_functional/``; this module gathers them.
"""

from shenjing._ops.activation import one_hot  # noqa: F401
from shenjing._ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from shenjing.nn._functional.activation import *  # noqa: F401,F403
from shenjing.nn._functional.activation_more import *  # noqa: F401,F403
from shenjing.nn._functional.conv import *  # noqa: F401,F403
from shenjing.nn._functional.conv_transpose import *  # noqa: F401,F403
from shenjing.nn._functional.conv3d import *  # noqa: F401,F403
from shenjing.nn._functional.pooling import *  # noqa: F401,F403
from shenjing.nn._functional.pooling_more import *  # noqa: F401,F403
from shenjing.nn._functional.fractional_pool import *  # noqa: F401,F403
from shenjing.nn._functional.padding import *  # noqa: F401,F403
from shenjing.nn._functional.vision import *  # noqa: F401,F403
from shenjing.nn._functional.grid import *  # noqa: F401,F403
from shenjing.nn._functional.shuffle import *  # noqa: F401,F403
from shenjing.nn._functional.dropout import *  # noqa: F401,F403
from shenjing.nn._functional.dropout_more import *  # noqa: F401,F403
from shenjing.nn._functional.normalization import *  # noqa: F401,F403
from shenjing.nn._functional.group_norm import *  # noqa: F401,F403
from shenjing.nn._functional.rms_norm import *  # noqa: F401,F403
from shenjing.nn._functional.sparse import *  # noqa: F401,F403
from shenjing.nn._functional.embedding_bag import *  # noqa: F401,F403
from shenjing.nn._functional.linear import *  # noqa: F401,F403
from shenjing.nn._functional.attention import *  # noqa: F401,F403
from shenjing.nn._functional.recurrent import *  # noqa: F401,F403
from shenjing.nn._functional.loss import *  # noqa: F401,F403
from shenjing.nn._functional.likelihood_loss import *  # noqa: F401,F403
from shenjing.nn._functional.margin_loss import *  # noqa: F401,F403
from shenjing.nn._functional.distance import *  # noqa: F401,F403
from shenjing.nn._functional.misc import *  # noqa: F401,F403
from shenjing.nn._functional.linear_cross_entropy import *  # noqa: F401,F403
