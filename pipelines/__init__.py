"""End-to-end flows wiring one domain to the core."""
