"""One source file as text and trees: decoding, parsing (with the deep-stack fallback), nesting
limits, and the line index that turns offsets into positions. Depends on ``core`` only."""
