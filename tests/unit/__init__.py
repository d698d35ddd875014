"""Fast unit tests: no broker, Redis, Paddle or network; each file runs in about a second."""
