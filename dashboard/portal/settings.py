"""What the portal shows: whether it is on, its texts, and which tools are public.

Read from the configuration (PORTAL_*); every page asks here, never the config itself, so
that the operator's own choices can override them in one place.
"""

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class PortalSettings:
    enabled: bool
    title: str
    tagline: str
    logo_url: str
    # Names of the tools the portal shows; None: every tool in the registry.
    public_tools: frozenset[str] | None


def portal_settings() -> PortalSettings:
    """The portal's settings for this request."""
    config = current_app.config
    public = config.get("PORTAL_PUBLIC_TOOLS") or []
    return PortalSettings(
        enabled=config.get("PORTAL_ENABLED", True),
        title=config.get("PORTAL_TITLE", "Toolbox API"),
        tagline=config.get("PORTAL_TAGLINE", ""),
        logo_url=config.get("PORTAL_LOGO_URL", ""),
        public_tools=frozenset(public) if public else None,
    )


def is_public(tool_name: str, settings: PortalSettings | None = None) -> bool:
    """Whether the portal shows this tool."""
    settings = settings or portal_settings()
    return settings.public_tools is None or tool_name in settings.public_tools
