"""The page a lab trial loads: it sends one tracking event, then ends after a gap.

Its script reads the cell from the query string, optionally opens the collector connection
first (``warm``), sends with the cell's transport and content type, ends the page (navigation
or ``window.close()``) ``gap`` milliseconds later, and reports from its page-hide handler, by a
beacon to the page server (whose packets are never delayed): when the send and the end
started, when the handler ran, when the page saw the response, and whether the transport
accepted the request.
"""

TRIAL_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>trial</title>
<p>One tracking event, then the page ends.</p>
<script>
// The cell comes in the query string: trial, transport, gap (ms), collector (origin),
// warm (1: open the collector connection first), preflight (1: a JSON body, which needs a
// CORS preflight), end (navigate or close).
const q = new URLSearchParams(location.search);
const trial = q.get("trial");
const transport = q.get("transport");
const gap = Number(q.get("gap"));
const collector = q.get("collector");
const state = {trial, sent_at: null, ended_at: null, acked_at: null, hidden_at: null,
               accepted: null, error: null};

// The page's own report, from its page-hide handler, to the page server (never delayed).
addEventListener("pagehide", () => {
  state.hidden_at = performance.now();
  navigator.sendBeacon("/report", JSON.stringify(state));
});

function endPage() {
  state.ended_at = performance.now();
  if (q.get("end") === "navigate") location.href = "/next";
  else window.close();
}

function send() {
  const url = collector + "/event?trial=" + encodeURIComponent(trial);
  const body = JSON.stringify({trial, event: "click", padding: "x".repeat(200)});
  const type = q.get("preflight") === "1" ? "application/json" : "text/plain;charset=UTF-8";
  const ack = () => { state.acked_at = performance.now(); };
  const fail = (e) => { state.error = String((e && e.name) || e); };
  state.sent_at = performance.now();
  try {
    if (transport === "xhr") {
      const x = new XMLHttpRequest();
      x.open("POST", url);
      x.setRequestHeader("Content-Type", type);
      x.onload = ack;
      x.onerror = () => fail("NetworkError");
      x.send(body);
      state.accepted = true;
    } else if (transport === "beacon") {
      state.accepted = navigator.sendBeacon(url, new Blob([body], {type}));
    } else {
      const keepalive = transport === "fetch_keepalive";
      fetch(url, {method: "POST", body, headers: {"Content-Type": type}, keepalive})
        .then(ack, fail);
      state.accepted = true;
    }
  } catch (e) {
    fail(e);
    state.accepted = false;
  }
}

async function run() {
  if (q.get("warm") === "1") {
    await fetch(collector + "/warm?trial=" + encodeURIComponent(trial)).then((r) => r.text());
  }
  send();
  if (gap <= 0) endPage();
  else setTimeout(endPage, gap);
}

addEventListener("load", () => {
  run().catch((e) => { state.error = "warm-up: " + e; endPage(); });
});
</script>
"""
"""The trial page's HTML."""
