"""Reference data tables (CSV) with value, unit and source columns."""
