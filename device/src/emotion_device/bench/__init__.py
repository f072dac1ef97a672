"""`emotion-device bench`: model latency and whole-pipeline throughput, measured on the device itself."""
