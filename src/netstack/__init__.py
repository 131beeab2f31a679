"""netstack: a pure-Python, layered IP networking system modelled on embedded stacks.

Applications use one Socket API (:mod:`netstack.socket`); underneath sits an IP stack
(:mod:`netstack.stacks`) bound to network interfaces (:mod:`netstack.interfaces`) that
drive network drivers (:mod:`netstack.drivers`). The same code runs on real links and in
deterministic virtual-time simulations (:mod:`netstack.sim`).
"""

__version__ = "0.1.0"
