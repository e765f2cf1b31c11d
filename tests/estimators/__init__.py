"""Estimators the framework's own tests run the suite against: correct ones and defective twins."""
