"""Readers for the statutory returns a council already has: CIN census XML, SSDA903 CSV
tables and Ofsted Annex A workbooks, converted into the monthly extract contract's tables."""
