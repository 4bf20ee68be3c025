"""The OASIS web app (Gradio, for Hugging Face Spaces): chat, explore, compare, models, about.

Every figure it shows comes from the OASIS MCP server's tools, called through the official MCP
client connected in process (:mod:`oasis_app.bridge`); the same app serves that server over
streamable HTTP at ``/mcp`` (:mod:`oasis_app.web`).
"""
