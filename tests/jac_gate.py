"""A gate the Jac test walkers wait on, opened by the tests (Jac imports it like any Python module)."""

import threading

gate = threading.Event()
