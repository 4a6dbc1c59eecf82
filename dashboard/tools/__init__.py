"""The tools API's tools: small services that take JSON and return JSON."""
