"""Wake-ups between the parts of chargegate (and, in multi-node mode, between nodes).

A wake-up carries no data: the database is the truth, a lost wake-up only costs latency.
"""
