"""The run engine: launch, the runner and its step handlers, fan-out, inputs, targets, resume."""
