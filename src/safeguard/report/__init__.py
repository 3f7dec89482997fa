"""The committee paper: one report model, rendered as HTML, PDF (Typst) and DOCX."""
