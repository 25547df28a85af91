__version__ = "0.1.0"
#: The plugin API version (``genesis_core.api``): the core's minor release while Genesis is 0.x.
API_VERSION = "0.1"
