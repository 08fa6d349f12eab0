"""The associate app's shell: layout, static files, sign-in pages and error pages (server-rendered, HTMX)."""
