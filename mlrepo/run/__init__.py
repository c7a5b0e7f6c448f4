"""Running: compose a config, run it once as a tracked run, its identity, steps, sweeps and launchers."""
