"""Alarms: levels under each rule (thresholds, rate, model envelope, no data) and lifecycles."""
