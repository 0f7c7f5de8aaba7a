"""The benchmark's end-to-end line: landmarks per face against MediaPipe, from the same run's medians."""

from facehub.bench import end_to_end_ratio, run_bench


def test_the_ratio_line_adds_detection_to_landmarks_over_mediapipe() -> None:
    line = end_to_end_ratio({"detect@512": 5.0, "landmarks:pipnet": 7.0, "reference:mediapipe": 4.0, "parse:bisenet": 50.0})
    assert line.endswith("(5.0 + 7.0) / 4.0 = 3.00x")
    assert end_to_end_ratio({"detect@512": 5.0, "landmarks:pipnet": 7.0}) == ""  # no MediaPipe row, no ratio


def test_a_bench_run_reports_each_stage_and_no_ratio_without_its_stages() -> None:
    table = run_bench(repeats=2, stages=["detect:blazeface-short@512"])
    assert "| detect:blazeface-short@512 |" in table and "failed" not in table
    assert "vs MediaPipe" not in table
