"""Reports and tracking stage: results.json / samples.jsonl, report.md and charts, comparisons, MLflow."""
