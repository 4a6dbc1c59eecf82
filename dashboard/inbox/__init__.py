"""The errors inbox: a user's failed calls grouped by tool, version, code and message.

service.py (the error groups) is shared by the page (routes.py) and the management API; this
file imports neither, so the API app can use the service without loading the page.
"""
