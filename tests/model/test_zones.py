import numpy as np

from xraydesk.ai.zones import zone_labels


def _two_lungs():
    mask = np.zeros((300, 240), bool)
    mask[30:270, 20:100] = True    # patient's right lung, on the viewer's left
    mask[60:240, 140:220] = True   # patient's left lung, shorter
    return mask


def test_each_lung_is_split_into_thirds_of_its_own_height():
    labels = zone_labels(_two_lungs())
    assert set(np.unique(labels)) == set(range(7))
    assert labels[30, 50] == 1 and labels[150, 50] == 2 and labels[269, 50] == 3   # RU, RM, RL
    assert labels[60, 180] == 4 and labels[150, 180] == 5 and labels[239, 180] == 6  # LU, LM, LL
    assert labels[20, 50] == 0 and labels[150, 120] == 0
    right_rows = [np.flatnonzero((labels == zone).any(axis=1)) for zone in (1, 2, 3)]
    assert [len(r) for r in right_rows] == [80, 80, 80]


def test_an_empty_mask_has_no_zones():
    assert not zone_labels(np.zeros((50, 50), bool)).any()
