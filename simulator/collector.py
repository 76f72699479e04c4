"""The collector: counts what arrives, dedupes by message id, records why the rest never did.

Every true event becomes a :class:`Message` with one id shared by all its copies (client
resends, the server copy of a ``dual`` plan). When no further copy can arrive the collector
settles the message into the tally: delivered once (plus duplicates it could not dedupe), or
lost with one cause, or still ``pending`` at the end of the run.
"""

from __future__ import annotations

from simulator.tally import MEASURES, TallyBuffer

_M = {name: i for i, name in enumerate(MEASURES)}
TRUTH, DELIVERED, CONTEXT, DUPLICATES, BOTS = (
    _M["truth"],
    _M["delivered"],
    _M["delivered_context"],
    _M["duplicates"],
    _M["bots"],
)
PENDING, ANONYMOUS = _M["pending"], _M["anonymous"]
VALUE_TRUTH, VALUE_DELIVERED, VALUE_DUPLICATES = (
    _M["value_truth"],
    _M["value_delivered"],
    _M["value_duplicates"],
)
VALUE_SQ_TRUTH, VALUE_SQ_DELIVERED = _M["value_sq_truth"], _M["value_sq_delivered"]
LOST = {name[5:]: i for name, i in _M.items() if name.startswith("lost_")}
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
    dual : dict or None
        For plans that send it both ways: plan -> server outcome ``(arrival or None, cause)``,
        or ``None`` while the server copy is still travelling.
    client_done : bool
        Whether the client copy is settled.
    """

    __slots__ = (
        "event",
        "off",
        "value",
        "attempts",
        "arrivals",
        "cause",
        "client",
        "dual",
        "client_done",
        "own",
    )

    def __init__(
        self,
        event: int,
        off: int,
        value: float,
        client: bool,
        dual: dict | None,
        own: tuple = (),
    ) -> None:
        self.event = event
        self.off = off
        self.value = value
        self.attempts = 0
        self.arrivals: list[float] = []
        self.cause: str | None = None
        self.client = client
        self.dual = dual
        self.own = own
        self.client_done = False


class Collector:
    """Settles messages into a :class:`~simulator.tally.TallyBuffer`.

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

    def truth(self, off: int, value: float, n: int = 1) -> None:
        """Count ``n`` true events of one value (once: every plan sees the same truth)."""
        shared = self.buffer.shared
        shared[off + TRUTH] += n
        if value:
            shared[off + VALUE_TRUTH] += n * value
            shared[off + VALUE_SQ_TRUTH] += n * value * value

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
            data[b + LOST[cause]] += 1.0
            return
        data[b + DELIVERED] += 1.0
        if context:
            data[b + CONTEXT] += 1.0
        if value:
            data[b + VALUE_DELIVERED] += value
            data[b + VALUE_SQ_DELIVERED] += value * value
        if len(arrivals) > 1:
            dups = self.duplicates(arrivals)
            if dups:
                data[b + DUPLICATES] += dups
                data[b + VALUE_DUPLICATES] += dups * value

    def duplicates(self, arrivals: list[float]) -> int:
        """How many copies beyond the first the collector keeps."""
        if not self.dedupe:
            return len(arrivals) - 1
        first = min(arrivals)
        return sum(1 for t in arrivals if t - first > self.window)

    def count(self, plan: int, off: int, measure: int, n: int = 1) -> None:
        """Add ``n`` to a single measure (bots, anonymous counts, withheld events)."""
        self.data[plan * self.stride + off + measure] += n

    def client_settled(self, msg: Message, arrivals: list[float], cause: str | None) -> None:
        """The client copy of ``msg`` can produce no further arrivals."""
        msg.client_done = True
        msg.arrivals = arrivals
        msg.cause = cause
        if msg.client:
            if len(arrivals) == 1:  # the common case, inlined: delivered once, with context
                data, b, value = self.buffer.client, msg.off, msg.value
                data[b + DELIVERED] += 1.0
                data[b + CONTEXT] += 1.0
                if value:
                    data[b + VALUE_DELIVERED] += value
                    data[b + VALUE_SQ_DELIVERED] += value * value
            else:
                self.settle(-1, msg.off, msg.value, arrivals, cause, True)
        for p in msg.own:
            self.settle(p, msg.off, msg.value, arrivals, cause, True)
        if msg.dual:
            for p, server in msg.dual.items():
                if server is not None:
                    self._settle_dual(p, msg, server)

    def server_settled(
        self, plan: int, msg: Message, arrival: float | None, cause: str | None
    ) -> None:
        """The server copy of a ``dual`` message has arrived or is lost."""
        outcome = (arrival, cause)
        msg.dual[plan] = outcome
        if msg.client_done:
            self._settle_dual(plan, msg, outcome)

    def dual_arrived(self, plan: int, msg: Message, arrival: float) -> None:
        """The server copy of a ``dual`` message arrived (:meth:`server_settled`, inlined)."""
        if not msg.client_done:
            msg.dual[plan] = (arrival, None)
            return
        msg.dual[plan] = (arrival, None)
        client = msg.arrivals
        if len(client) > 1 or (client and not self.dedupe):
            self.settle(plan, msg.off, msg.value, [*client, arrival], None, True)
            return
        data, b, value = self.data, plan * self.stride + msg.off, msg.value
        data[b + DELIVERED] += 1.0
        if client:
            data[b + CONTEXT] += 1.0
            if abs(arrival - client[0]) > self.window:  # both copies kept
                data[b + DUPLICATES] += 1.0
                data[b + VALUE_DUPLICATES] += value
        if value:
            data[b + VALUE_DELIVERED] += value
            data[b + VALUE_SQ_DELIVERED] += value * value

    def _settle_dual(self, plan: int, msg: Message, server: tuple) -> None:
        arrival, server_cause = server
        arrivals = msg.arrivals if arrival is None else [*msg.arrivals, arrival]
        if arrivals:
            cause = None
        elif "pending" in (server_cause, msg.cause):
            cause = "pending"
        else:
            cause = server_cause
        self.settle(plan, msg.off, msg.value, arrivals, cause, bool(msg.arrivals))
