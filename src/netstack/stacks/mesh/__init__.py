"""The "mesh" stack (Nanostack class): IPv6 over IEEE 802.15.4 — the MAC with its frame
security, 6LoWPAN, and later 6LoWPAN-ND, RPL, the border router, Thread and Wi-SUN."""
