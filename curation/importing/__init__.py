"""Importing items: streaming readers, row checks, bulk writers and the import job."""
