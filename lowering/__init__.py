"""Lowering from lamina dialects to TVM tensor expressions and schedules (later issues)."""
