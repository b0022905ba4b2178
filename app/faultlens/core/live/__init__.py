"""Live monitoring: sources that deliver rows as they arrive, and the monitor around them.

``source`` defines the one small interface every source implements (a data logger's
growing CSV, an MQTT topic; an OPC UA source later) so the buffer, the live scan, the
recorder, the GUI and the CLI never depend on where rows come from.
"""
