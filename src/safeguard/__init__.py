"""safeguard: children's safeguarding performance data from monthly case-management extracts."""

__version__ = "0.1.0"
