"""The JSON API that customers' programs call with an API key: its own Flask app
(`dashboard.create_api_app`), mounted under /api beside the dashboard."""

# Where a call came from, logged in tool_logs.source: a WSGI environ entry that only a caller in
# the same process can set (HTTP headers arrive as HTTP_*), so no client can claim it. The
# dashboard's playground sets it to "playground"; calls over HTTP have none (the API). Here,
# not in the gateway, so that the playground needs nothing of the hot path to name it.
CALL_SOURCE_ENVIRON = "toolbox.call_source"
