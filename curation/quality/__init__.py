"""Quality jobs: near-duplicates, leakage and item checks; adjudication adds wrong labels."""
