"""A synthetic authority, Demoshire: simulated children's journeys written as monthly extracts."""
