"""`emotion-train bench` measures training throughput; the number itself belongs to `make bench`."""

import json

from emotion_train.cli import main


def test_bench_reports_images_per_second_for_an_architecture(data_dir, capsys):
    assert main(["bench", "--arch", "edge", "--steps", "2", "--batch-size", "16",
                 "--data-dir", str(data_dir)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["architecture"] == "edge" and row["images"] == 32 and row["augment"]
    assert row["images_per_s"] > 0 and row["parameters"] > 100_000
