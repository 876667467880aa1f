"""The LM layer: the `BaseLM` seam, the `LM` facade over HTTP providers, cache, retries, limits, usage."""
