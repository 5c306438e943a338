"""Reports from the numbers: the JSON summary, the figures, and the HTML and Markdown pages."""
