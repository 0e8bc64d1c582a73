"""What the parser processes share from their first message on.

The forkserver that starts them (pool.ParsePool) imports this module once,
before it forks any parser: the parsing code and the sentiment scorer's
model are then loaded in every parser already, rather than by each one on
the clock of a first sync. The language detector (py3langid, 0.4 s to
load) is left to load in a parser that meets a text the quick English
check cannot settle: most mailboxes rarely need it, and until the
processes are up the worker parses chunks itself.
"""
import sentiment
from inbox import tagging  # noqa: F401  (imported for the processes, not used here)

from . import parse  # noqa: F401

sentiment.score_many(["Thanks for the quick reply!"])  # the model loads on first use
