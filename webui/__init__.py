"""What the staff workbenches of every service share: sessions and sign-in, the language catalogue, the page
skeleton, styles, the vendored htmx, and live updates over server-sent events. Names no service."""
