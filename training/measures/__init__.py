"""Offline measures of music, numpy only: statistics of generated pieces against the data (`live-biaxial
stats`), and how an accompaniment sits with the part it hears (the listening and harmony benchmarks)."""
