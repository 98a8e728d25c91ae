// Live updates: Server-Sent Events from GET /api/events (`reading` and `alarm` events). When the
// stream is not served (or drops for good), say "live updates unavailable" and poll instead.

import { apiUrl } from "./api.js";

const POLL_MS = 30_000;

/**
 * Subscribe to the event stream.
 *
 * handlers: {onReading(data), onAlarm(alarm), onStatus("connecting" | "on" | "off"), poll()}
 * Returns a function that stops everything.
 */
export function connectLive({ onReading, onAlarm, onStatus, poll, site }) {
  let source = null;
  let timer = null;
  let stopped = false;

  const startPolling = () => {
    onStatus("off");
    if (!timer) timer = setInterval(poll, POLL_MS);
  };

  if (typeof EventSource === "undefined") {
    startPolling();
    return () => clearInterval(timer);
  }

  const parse = (event) => {
    try {
      return JSON.parse(event.data);
    } catch {
      return null;
    }
  };
  const mine = (payload) => !site || !payload.site || payload.site === site;

  onStatus("connecting");
  source = new EventSource(apiUrl("/api/events"));
  source.addEventListener("open", () => {
    onStatus("on");
    if (timer) {
      clearInterval(timer);
      timer = null;
    }
  });
  source.addEventListener("reading", (event) => {
    const payload = parse(event);
    if (payload && mine(payload)) onReading(payload);
  });
  source.addEventListener("alarm", (event) => {
    const payload = parse(event);
    if (payload && mine(payload)) onAlarm(payload);
  });
  source.addEventListener("error", () => {
    if (stopped) return;
    // CLOSED: the server refused the stream (404, wrong type) and the browser gives up;
    // CONNECTING: it retries by itself, meanwhile the page polls.
    startPolling();
  });
  return () => {
    stopped = true;
    if (source) source.close();
    clearInterval(timer);
  };
}
