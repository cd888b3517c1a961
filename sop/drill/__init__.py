"""Fire drills: the guard that keeps a simulated drill off hosts and the network, and the drill report."""
