"""The JSON API that customers' programs call with an API key: its own Flask app
(`dashboard.create_api_app`), mounted under /api beside the dashboard."""
