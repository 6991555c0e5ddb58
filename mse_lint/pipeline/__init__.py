"""One run: files in, findings out. The runner collects files per project, the engine runs the
checks on each (in a pool when it pays), then the findings pass the filters, suppressions and
baseline; the results cache sits around the per-file work."""
