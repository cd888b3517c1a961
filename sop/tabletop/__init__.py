"""Tabletop exercises: scenario files, the exercise and its report, the facilitator's terminal."""
