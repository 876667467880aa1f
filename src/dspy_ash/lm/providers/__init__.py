"""Provider clients: one wire format per file. Each is a `BaseLM` that sends one request over HTTP."""
