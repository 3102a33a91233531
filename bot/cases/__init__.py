"""The case record: what every journey hands to back-office staff."""
