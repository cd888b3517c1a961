"""Tabletop exercises: the exercise and its report, the facilitator's terminal (scenario files are
a format: sop.format.scenario)."""
