"""Analyses several check families share: the scope index (names resolved through imports and
aliases), path values (where a path expression points in the enclave) and tree listing."""
