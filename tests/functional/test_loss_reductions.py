"""The losses' reductions: the default is the mean."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import randn

import mathdnn
import mathdnn.functional as F


def test_cross_entropy_default_is_mean():
    logits, labels = randn(0, (4, 3)), np.array([0, 2, 1, 2])
    a = F.cross_entropy(mathdnn.tensor(logits), labels).item()
    b = F.cross_entropy(mathdnn.tensor(logits), labels, reduction="sum").item() / 4
    assert a == pytest.approx(b, rel=1e-14)
