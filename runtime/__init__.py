"""Running compiled models: executor, memory planning, devices (later issues)."""
