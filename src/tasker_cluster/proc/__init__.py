"""The OS layer: PID records, spawning, process groups, probes, ports, interrupts."""
