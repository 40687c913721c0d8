"""The host agent: a signed-HTTP daemon that starts, stops and reports the observer processes of one host.

This package never imports the server side (`obcp.api`, `obcp.meta`, `obcp.engine`); the server uses
`obcp.agent.client.AgentClient` to talk to it.
"""
