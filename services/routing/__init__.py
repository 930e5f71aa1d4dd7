"""Routing: opens a case for every complaint and sends it to the centre, a street or a community."""
