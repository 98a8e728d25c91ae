"""The site: a reservoir, its dam and monitoring network, loaded from one YAML file."""

from shuian.site.loader import load_site, parse_site
from shuian.site.model import Channel, Instrument, Logger, Reservoir, Site

__all__ = ["Channel", "Instrument", "Logger", "Reservoir", "Site", "load_site", "parse_site"]
