#!/usr/bin/env python3
"""Tests of scripts/compare_decoders.py's point-by-point comparison on hand-made records (no
sam2-amg run): masks are grouped by their prompt point, paired by IoU within a point, a mask
only one run has counts 0 in its point's IoU and marks the point as changed, and score gaps are
taken from pairs at IoU >= 0.99 only (NaN scores on both sides are equal)."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import compare_decoders  # noqa: E402


def record(point, rows, predicted_iou=0.9, stability_score=0.95):
    """A 10x10 mask whose rows [rows[0], rows[1]) are set, from prompt `point`."""
    mask = np.zeros((10, 10), dtype=bool)
    mask[rows[0]:rows[1], :] = True
    return {"point_coords": [list(point)], "mask": mask, "predicted_iou": predicted_iou,
            "stability_score": stability_score}


class CompareTest(unittest.TestCase):
    def test_equal_runs_give_iou_one_and_no_change(self):
        a = [record((1.0, 2.0), (0, 5)), record((1.0, 2.0), (5, 10)), record((7.5, 3.25), (2, 4))]
        ious, changed, worst = compare_decoders.compare(a, [dict(r) for r in a])
        self.assertEqual(sorted(ious), [1.0, 1.0])
        self.assertEqual(changed, 0)
        self.assertEqual(worst, {"predicted_iou": 0.0, "stability_score": 0.0})

    def test_pairs_stay_within_their_point(self):
        # Point P's mask in b equals point Q's mask in a: pairing across points would give 1.0.
        a = [record((1.0, 1.0), (0, 4)), record((9.0, 9.0), (4, 8))]
        b = [record((1.0, 1.0), (4, 8)), record((9.0, 9.0), (0, 4))]
        ious, changed, _ = compare_decoders.compare(a, b)
        self.assertEqual(ious, [0.0, 0.0])
        self.assertEqual(changed, 0)

    def test_a_mask_only_one_run_has_counts_zero_and_marks_the_point(self):
        a = [record((1.0, 1.0), (0, 4)), record((1.0, 1.0), (4, 10))]
        b = [record((1.0, 1.0), (0, 5))]  # IoU 4/5 with a's first mask
        ious, changed, worst = compare_decoders.compare(a, b)
        self.assertEqual(len(ious), 1)
        self.assertAlmostEqual(ious[0], 0.8 / 2, places=6)  # one pair, one mask unpaired
        self.assertEqual(changed, 1)
        self.assertEqual(worst["predicted_iou"], 0.0)  # the pair is below 0.99: no score gap taken

    def test_score_gaps_come_from_good_pairs(self):
        a = [record((3.0, 3.0), (0, 10), predicted_iou=0.5, stability_score=None)]
        b = [record((3.0, 3.0), (0, 10), predicted_iou=0.625, stability_score=None)]
        ious, _, worst = compare_decoders.compare(a, b)
        self.assertEqual(ious, [1.0])
        self.assertEqual(worst, {"predicted_iou": 0.125, "stability_score": 0.0})

    def test_points_equal_to_a_thousandth_are_one_point(self):
        a = [record((1.00001, 2.0), (0, 5))]
        b = [record((1.00002, 2.0), (0, 5))]
        ious, changed, _ = compare_decoders.compare(a, b)
        self.assertEqual((ious, changed), ([1.0], 0))


if __name__ == "__main__":
    unittest.main()
