"""The collector's bookkeeping: tally measures, and messages of the page-by-page client path.

A true event's copies share one message id (client resends, the server copy of a ``dual``
plan), so the collector counts an event delivered once, plus the duplicates it could not
dedupe, or lost with one cause, or still ``pending`` at the end of the run. The engine counts
outcomes on arrays (:mod:`simulator.model.outcome_counts`); this module names the measures, and
holds the :class:`Message` that :class:`~simulator.model.client.page.ClientPath` works on and the
:class:`Collector` that counts its outcomes when it is driven on its own (synthetic pages:
unload survival curves, exact-log tests).
"""

from __future__ import annotations

from simulator.model.tally import M
from simulator.model.tally_buffer import TallyBuffer

TRUTH, DELIVERED, CONTEXT, DUPLICATES, BOTS = (
    M["truth"],
    M["delivered"],
    M["delivered_context"],
    M["duplicates"],
    M["bots"],
)
PENDING, ANONYMOUS = M["pending"], M["anonymous"]
VALUE_TRUTH, VALUE_DELIVERED, VALUE_DUPLICATES = (
    M["value_truth"],
    M["value_delivered"],
    M["value_duplicates"],
)
VALUE_SQ_TRUTH, VALUE_SQ_DELIVERED = M["value_sq_truth"], M["value_sq_delivered"]
LOST = {name[5:]: i for name, i in M.items() if name.startswith("lost_")}
LOST["pending"] = PENDING


class Message:
    """A true event travelling through the tracking paths.

    Attributes
    ----------
    event : int
        Event type index.
    off : int
        The event's and visitor cell's flat offset within a plan's tally.
    value : float
        Revenue (0 when the event carries none).
    attempts : int
        Client send attempts so far.
    arrivals : list of float
        Times at which client copies reached the collector.
    cause : str or None
        Why the client copy failed, when it did.
    client : bool
        Whether the shared client-path outcome (plans that send it on the client path and do
        not respect choice) includes this event.
    own : tuple of int
        Plans that send it on the client path and count it separately (they respect choice).
    client_done : bool
        Whether the client copy is settled.
    made : float
        When the event happened (a full retry store drops the oldest first).
    """

    __slots__ = (
        "event",
        "off",
        "value",
        "attempts",
        "arrivals",
        "cause",
        "client",
        "client_done",
        "own",
        "made",
    )

    def __init__(
        self,
        event: int,
        off: int,
        value: float,
        client: bool = True,
        own: tuple = (),
        made: float = 0.0,
    ) -> None:
        self.event = event
        self.off = off
        self.value = value
        self.attempts = 0
        self.arrivals: list[float] = []
        self.cause: str | None = None
        self.client = client
        self.own = own
        self.made = made
        self.client_done = False


class Collector:
    """Settles messages into a :class:`~simulator.model.tally_buffer.TallyBuffer`.

    Parameters
    ----------
    buffer : TallyBuffer
        Where counts go.
    dedupe : bool
        Whether copies with an id already seen are discarded.
    window : float
        Seconds after the first copy during which later copies are recognised as duplicates.
    """

    def __init__(self, buffer: TallyBuffer, dedupe: bool, window: float) -> None:
        self.buffer = buffer
        self.data = buffer.data
        self.stride = buffer.plan_stride
        self.dedupe = dedupe
        self.window = window

    def settle(
        self,
        plan: int,
        off: int,
        value: float,
        arrivals: list[float],
        cause: str | None,
        context: bool,
    ) -> None:
        """Record the final outcome of one true event under one plan.

        Parameters
        ----------
        plan : int
            Plan index, or ``-1`` for the client-path outcome shared by every plan that sends
            the event on the client path.
        off : int
            Flat offset of the event and cell (see :meth:`TallyBuffer.offset`).
        value : float
            The event's value.
        arrivals : list of float
            Times at which copies reached the collector (empty if none did).
        cause : str or None
            Loss cause when ``arrivals`` is empty (``"pending"`` if still travelling).
        context : bool
            Whether the delivered copy carried browser context (UTM, user agent, referrer).
        """
        if plan < 0:
            data, b = self.buffer.client, off
        else:
            data, b = self.data, plan * self.stride + off
        if not arrivals:
            data.add(b + LOST[cause], 1.0)
            return
        data.add(b + DELIVERED, 1.0)
        if context:
            data.add(b + CONTEXT, 1.0)
        if value:
            data.add(b + VALUE_DELIVERED, value)
            data.add(b + VALUE_SQ_DELIVERED, value * value)
        if len(arrivals) > 1:
            dups = self.duplicates(arrivals)
            if dups:
                data.add(b + DUPLICATES, dups)
                data.add(b + VALUE_DUPLICATES, dups * value)

    def duplicates(self, arrivals: list[float]) -> int:
        """How many copies beyond the first the collector keeps."""
        if not self.dedupe:
            return len(arrivals) - 1
        first = min(arrivals)
        return sum(1 for t in arrivals if t - first > self.window)

    def client_settled(self, msg: Message, arrivals: list[float], cause: str | None) -> None:
        """The client copy of ``msg`` can produce no further arrivals."""
        msg.client_done = True
        msg.arrivals = arrivals
        msg.cause = cause
        if msg.client:
            if len(arrivals) == 1:  # the common case, inlined: delivered once, with context
                data, b, value = self.buffer.client, msg.off, msg.value
                data.add(b + DELIVERED, 1.0)
                data.add(b + CONTEXT, 1.0)
                if value:
                    data.add(b + VALUE_DELIVERED, value)
                    data.add(b + VALUE_SQ_DELIVERED, value * value)
            else:
                self.settle(-1, msg.off, msg.value, arrivals, cause, True)
        for p in msg.own:
            self.settle(p, msg.off, msg.value, arrivals, cause, True)
