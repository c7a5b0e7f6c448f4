"""Tracking: where runs go, reading and listing them, model flavours, git state, tables, run cards."""
