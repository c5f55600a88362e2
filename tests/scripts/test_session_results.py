#!/usr/bin/env python3
"""Tests of the GPU session's result files (scripts/session_results.py) and of the figures the docs
stage writes from them (scripts/gpu_check_report.py), on stand-in logs and results (standard
library only, no GPU). Checked:

- a ctest log's counts and failed tests, and the probe's path line kept; a log cut short by
  its bound counts the tests that finished and is not "all pass";
- an ncu raw CSV: the units row is no launch, instances of one template count as one kernel,
  kernels rank by GPU time; without a report the log's launches are counted (no times), and a
  profiler that could not start says why;
- gpu-session.sh's timeline: each stage's seconds and the deadline's skips, of the last run only;
- the notes section states each goal as met or not met from the numbers (p50 per precision, syncs
  per image, bf16 mask counts), names the fallback path when the probe failed, and the
  performance table carries syncs and paths.
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import gpu_check_report  # noqa: E402
import session_results  # noqa: E402

CTEST_FAILED = """Test project /x/build-gpu
 1/36 Test  #1: a ...   Passed    0.01 sec
94% tests passed, 2 tests failed out of 36

Total Test time (real) =  12.00 sec

The following tests FAILED:
\t 12 - On the test device, the statistics and RLE equal ATen's upsample and threshold there (Failed)
\t 40 - read_point_grids reads one grid per layer (SEGFAULT)
Errors while running CTest
  cuda_stats_path: fallback (probe: 3 bits differ from ATen)
"""

NCU_CSV = "\n".join([
    '"ID","Process ID","Kernel Name","Block Size","gpu__time_duration.sum"',
    '"","","","","nsecond"',
    '"0","7","void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>(int, T1)","(128,1,1)","1000"',
    '"1","7","void at::native::vectorized_elementwise_kernel<4, at::native::AddFunctor<c10::BFloat16>>(int, T1)","(128,1,1)","2000"',
    '"2","7","sam2amg::upsampled_stats_kernel(const float *, int)","(256,1,1)","9000"',
    '"3","7","void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>(int, T1)","(128,1,1)","1000"',
])


class CtestTest(unittest.TestCase):
    def test_counts_failed_tests_and_notes(self):
        r = session_results.ctest_summary(CTEST_FAILED, 8, ["cuda_stats_path"])
        self.assertEqual((r["passed"], r["failed"], r["total"]), (34, 2, 36))
        self.assertEqual([t["why"] for t in r["failed_tests"]], ["Failed", "SEGFAULT"])
        self.assertTrue(r["failed_tests"][1]["name"].startswith("read_point_grids"))
        self.assertEqual(r["notes"], ["cuda_stats_path: fallback (probe: 3 bits differ from ATen)"])

    def test_all_passed(self):
        r = session_results.ctest_summary("100% tests passed, 0 tests failed out of 3\n", 0)
        self.assertEqual((r["passed"], r["failed"], r["total"], r["failed_tests"]), (3, 0, 3, []))

    def test_no_summary_line(self):
        r = session_results.ctest_summary("ctest: killed\n", 124)
        self.assertIsNone(r["total"])

    def test_cut_short_counts_the_finished_tests(self):
        log = (" 1/90 Test  #3: a ..................   Passed    0.51 sec\n"
               " 2/90 Test  #7: b c ................***Failed    1.20 sec\n"
               " 3/90 Test  #9: d ..................***Exception: SegFault  0.10 sec\n"
               " 4/90 Test #11: e ..................***Skipped   0.00 sec\n")
        r = session_results.ctest_summary(log, 124)
        self.assertFalse(r["complete"])
        self.assertEqual((r["passed"], r["failed"], r["total"]), (2, 2, 4))
        self.assertEqual([t["name"] for t in r["failed_tests"]], ["b c", "d"])
        line, ok = gpu_check_report._ctest_line(r)
        self.assertIn("cut short", line)
        self.assertFalse(ok)


class NcuTest(unittest.TestCase):
    def test_report_ranks_kernels_by_time(self):
        r = session_results.ncu_summary("", NCU_CSV, 0, "ncu x")
        self.assertEqual(r["source"], "report")
        self.assertEqual(r["kernels"], 4)  # the units row is not a launch
        self.assertEqual(r["distinct_kernels"], 2)
        self.assertAlmostEqual(r["gpu_seconds"], 13e-6)
        self.assertEqual(r["top"][0]["name"], "sam2amg::upsampled_stats_kernel")
        self.assertEqual(r["top"][1]["name"], "at::native::vectorized_elementwise_kernel<...>")
        self.assertEqual(r["top"][1]["calls"], 3)
        self.assertAlmostEqual(r["top"][1]["share"], 4.0 / 13.0)

    def test_log_only_counts_launches(self):
        log = ('==PROF== Connected to process 7\n'
               '==PROF== Profiling "vectorized_elementwise_kernel" - 0: 0%....50%....100% - 1 pass\n'
               '==PROF== Profiling "upsampled_stats_kernel" - 1: 0%....50%....100% - 1 pass\n'
               '==PROF== Profiling "vectorized_elementwise_kernel" - 2: 0%....50%....100% - 1 pass\n')
        r = session_results.ncu_summary(log, "", 124, "ncu x")
        self.assertTrue(r["source"].startswith("log"))
        self.assertEqual(r["kernels"], 3)
        self.assertEqual((r["top"][0]["name"], r["top"][0]["calls"], r["top"][0]["seconds"]),
                         ("vectorized_elementwise_kernel", 2, None))
        self.assertIsNone(r["gpu_seconds"])

    def test_profiler_that_did_not_start(self):
        r = session_results.ncu_summary("==ERROR== Failed to initialize the profiler: LibraryNotLoaded\n", "", 1, "")
        self.assertIsNone(r["kernels"])
        self.assertIn("LibraryNotLoaded", r["error"])
        r = session_results.ncu_summary("ncu: not found on this machine\n", "", 127, "")
        self.assertEqual(r["error"], "ncu: not found on this machine")


class StagesTest(unittest.TestCase):
    def test_timeline(self):
        log = ("[0 s] start (cuda): NVIDIA H200\ntorch 2.11\n[2 s] stage start\n[2 s] stage build\n"
               "[110 s] stage bench\n[150 s] folder: skipped, 40 s left and it needs 60 (+ 30 for docs)\n"
               "[151 s] stage probe: skipped (--skip)\n[151 s] stage docs\n[160 s] end\n")
        r = session_results.stages_summary("[0 s] start (cpu): \n[1 s] stage bench\n[9 s] end\n" + log)
        self.assertEqual([(s["stage"], s["seconds"]) for s in r["stages"]],
                         [("start", 0), ("build", 108), ("bench", 41), ("probe", 0), ("docs", 9)])
        self.assertEqual(r["stages"][3]["note"], "skipped (--skip)")
        self.assertIn("150 s: folder: skipped, 40 s left and it needs 60 (+ 30 for docs)", r["notes"])
        self.assertEqual(r["end_s"], 160)


def _bench(p50, syncs, ref_p50=None):
    doc = {"tool": "sam2-amg bench", "setup": {"runtime": "LibTorch 2.11", "post-processing": "fused"},
           "images": [{"width": 2048, "height": 1536, "median_stage_seconds": {"decoder": 0.04, "postprocess": 0.01}}],
           "summary": {"p50_seconds": p50, "p90_seconds": p50 * 1.1, "images_per_second": 1 / p50,
                       "device_syncs_per_image": syncs, "host_reads_per_image": 7, "masks_total": 2},
           "paths": {"decoder": "fast", "decoder_graph": "cuda graph (3 replays)", "postprocess_kernel": "kernel"}}
    if ref_p50:
        doc["reference"] = {"summary": {"p50_seconds": ref_p50}, "torch_version": "2.11"}
        doc["speedup_p50"] = ref_p50 / p50
    return doc


def _parity(images, changed, mean_iou, share=1.0):
    return {"summary": {"images": images, "reference_masks": 10, "sam2_amg_masks": 10, "reference_matched_share": share,
                        "sam2_amg_matched_share": share, "mean_iou": mean_iou, "images_with_count_change": changed,
                        "max_abs_delta_predicted_iou": 0.0, "max_abs_delta_stability_score": 0.0,
                        "reference_seconds": 1.0, "sam2_amg_seconds": 1.0}}


class NotesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.results = self.tmp.name
        for d in ("bench", "parity", "session"):
            os.makedirs(os.path.join(self.results, d))

    def tearDown(self):
        self.tmp.cleanup()

    def put(self, rel, doc):
        with open(os.path.join(self.results, rel), "w") as f:
            json.dump(doc, f)

    def row(self, rows, start):
        found = [r for r in rows if r.startswith("| " + start)]
        self.assertEqual(len(found), 1, (start, rows))
        return found[0]

    def test_goals_from_the_numbers(self):
        self.put("session/probe.json", session_results.ctest_summary(CTEST_FAILED, 8, ["cuda_stats_path"]))
        self.put("session/ctest.json", session_results.ctest_summary("100% tests passed, 0 tests failed out of 9", 0))
        self.put("session/profile.json", session_results.ncu_summary("", NCU_CSV, 0, "ncu x"))
        self.put("bench/l.sam2-amg.bf16fast.2048x1536.json", _bench(0.090, 3, ref_p50=1.8))
        self.put("bench/l.sam2-amg.fp32.2048x1536.json", _bench(0.350, 6, ref_p50=1.9))
        self.put("bench/l.sam2-amg.bf16fast.folder.json", _bench(0.1, 3))
        self.put("parity/t.fp32.m2m.json", _parity(2, 0, 1.0))
        self.put("parity/s.fp32.minregion.json", _parity(2, 0, 0.98, share=0.9))
        self.put("parity/l.bf16fast.defaults.json", _parity(2, 0, 0.995))
        self.put("parity/l.bf16fast.keepall.json", _parity(2, 1, 0.992))
        rows = gpu_check_report.notes_section(self.results, "cuda")

        probe = self.row(rows, "kernel probe")
        self.assertIn("fallback (probe: 3 bits differ", probe)
        self.assertTrue(probe.endswith("| not met |"))
        self.assertTrue(self.row(rows, "ctest").endswith("| 9 of 9 passed, 0 failed | all pass | met |"))
        bf16 = self.row(rows, "bench l bf16fast 2048x1536")
        self.assertIn("90.0 ms", bf16)
        self.assertIn("20.0x", bf16)
        self.assertTrue(bf16.endswith("| <= 100 ms | met |"))
        self.assertTrue(self.row(rows, "bench l fp32 2048x1536").endswith("| <= 300 ms | not met |"))
        self.assertTrue(self.row(rows, "syncs (host reads) per image, l bf16fast").endswith("| 3 (7) | <= 5 | met |"))
        self.assertTrue(self.row(rows, "syncs (host reads) per image, l fp32").endswith("| 6 (7) | <= 5 | not met |"))
        self.assertIn("cuda graph (3 replays)", self.row(rows, "paths, l bf16fast"))
        self.assertIn("10.00 images/s", self.row(rows, "folder pass"))
        fp32 = self.row(rows, "fp32 parity")
        self.assertIn("1 of 2 rows at 100 %; not: s minregion", fp32)
        self.assertTrue(fp32.endswith("| not met |"))
        # 1 of 4 image runs changed its count: 25 % > 5 %, though every mean IoU is >= 0.99.
        bf = self.row(rows, "l bf16fast against the fp32 reference")
        self.assertIn("defaults 0.9950, keepall 0.9920; 1 of 4 image runs (25 %)", bf)
        self.assertTrue(bf.endswith("| not met |"))
        self.assertIn("| `sam2amg::upsampled_stats_kernel` | 1 | 0.0 ms | 69.2 % |", rows)

        perf = gpu_check_report.performance_table(self.results)
        line = [r for r in perf if "| bf16fast.2048x1536 |" in r and "| sam2-amg |" in r][0]
        self.assertIn("| 3 (7) |", line)
        self.assertIn("40.0 ms / 10.0 ms", line)
        self.assertIn("decoder fast, decoder_graph cuda graph (3 replays), postprocess_kernel kernel", line)

    def test_bf16_met_and_nothing_run(self):
        self.put("parity/t.bf16fast.defaults.json", _parity(40, 2, 0.995))
        rows = gpu_check_report.notes_section(self.results, "cuda")
        self.assertTrue(self.row(rows, "t bf16fast against").endswith("| met |"))  # 2 of 40 = 5 %
        self.assertIn("| not run |", self.row(rows, "kernel probe"))
        self.assertIn("not run", self.row(rows, "kernel profile"))

    def test_cpu_section_states_no_gpu_goals(self):
        self.put("bench/t.sam2-amg.fp32.small.json", _bench(20.0, None))
        rows = gpu_check_report.notes_section(self.results, "cpu")
        self.assertTrue(self.row(rows, "bench t fp32 small").endswith("| - | - |"))


if __name__ == "__main__":
    unittest.main()
