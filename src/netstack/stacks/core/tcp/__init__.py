"""TCP: the connection machine, its sender/receiver algorithms, listeners and the stack layer."""
